//! A Feast repo served with `serve -t grpc`, replaying the calls recorded against Feast 0.67's
//! own gRPC server (`feast listen`, fixtures/feast-0.67/grpc-observed.json): the same request
//! bytes, answered with what Feast answered (byte for byte where Feast's answer is
//! deterministic, column by column where it lists a view's features in set order), and served
//! where Feast fails (request data for on-demand views, typed map features). Health and
//! reflection answer as `grpcurl`-style tools expect.

use std::collections::BTreeMap;

use edgefeat::proto::client::feast::serving::GetOnlineFeaturesResponse;
use edgefeat::proto::client::grpc_server::PushResponse;
use edgefeat::types::Value;
use prost::Message;
use serde_json::Value as Json;
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use crate::feast_repo::feast_repo;
use crate::grpc_client::{call_raw, channel, runtime};
use crate::http::Server;

const GET: &str = "/GrpcFeatureServer/GetOnlineFeatures";
const SERVING_GET: &str = "/feast.serving.ServingService/GetOnlineFeatures";
const PUSH: &str = "/GrpcFeatureServer/Push";

fn observed() -> Json {
    serde_json::from_str(include_str!("../fixtures/feast-0.67/grpc-observed.json")).unwrap()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// A recorded call's request bytes.
fn request(call: &Json) -> Vec<u8> {
    unhex(call["request_hex"].as_str().unwrap())
}

/// A recorded call's response bytes.
fn response(call: &Json) -> Vec<u8> {
    unhex(call["response_hex"].as_str().unwrap())
}

/// Map and struct entries sorted by key, all the way down: Feast writes them in no fixed order.
fn canonical(v: Value) -> Value {
    let sorted = |entries: Vec<(String, Value)>| {
        let mut entries: Vec<_> = entries
            .into_iter()
            .map(|(k, v)| (k, canonical(v)))
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries
    };
    match v {
        Value::Map(entries) => Value::Map(sorted(entries)),
        Value::Struct(entries) => Value::Struct(sorted(entries)),
        Value::List(items) => Value::List(items.into_iter().map(canonical).collect()),
        other => other,
    }
}

/// One column of a response: values (typed, canonical), statuses, event timestamps (seconds).
type Column = (Vec<Option<Value>>, Vec<i32>, Vec<i64>);

/// A response's columns by name: what it says, whatever order it lists them in.
fn columns(bytes: &[u8]) -> BTreeMap<String, Column> {
    let resp = GetOnlineFeaturesResponse::decode(bytes).unwrap();
    let names = resp.metadata.unwrap().feature_names.unwrap().val;
    assert_eq!(names.len(), resp.results.len());
    names
        .into_iter()
        .zip(resp.results)
        .map(|(name, col)| {
            let values = col
                .values
                .iter()
                .map(|v| (!v.as_bytes().is_empty()).then(|| canonical(v.value().unwrap())))
                .collect();
            let stamps = col.event_timestamps.iter().map(|t| t.seconds).collect();
            (name, (values, col.statuses, stamps))
        })
        .collect()
}

/// The join keys first, as Feast lists them; the order of the rest is Feast's set order.
fn first_name(bytes: &[u8]) -> String {
    let resp = GetOnlineFeaturesResponse::decode(bytes).unwrap();
    resp.metadata.unwrap().feature_names.unwrap().val[0].clone()
}

#[track_caller]
fn assert_same_columns(ours: &[u8], feasts: &[u8]) {
    assert_eq!(first_name(ours), first_name(feasts));
    assert_eq!(columns(ours), columns(feasts));
}

fn serve_feast_repo_over_grpc(extra: &[&str]) -> (tempfile::TempDir, Server, String) {
    let (tmp, repo) = feast_repo(true);
    let mut args = vec!["-t", "grpc"];
    args.extend(extra);
    let (server, addrs) = Server::start_with_lines(&repo, &args, 1);
    let addr = addrs[0].clone();
    (tmp, server, addr)
}

#[test]
fn feasts_recorded_reads_get_feasts_answers() {
    let calls = observed();
    let (_tmp, _server, addr) = serve_feast_repo_over_grpc(&[]);
    runtime().block_on(async {
        let ch = channel(&addr).await;
        // One feature alone: nothing left to order, so byte for byte.
        let call = &calls["full_feature_names"];
        let ours = call_raw(&ch, GET, request(call)).await.unwrap();
        assert_eq!(ours, response(call), "full_feature_names");
        // Two features of a view, with a missing entity; and map, struct and json features:
        // the same columns. Both services answer alike.
        for name in ["features_list", "map_struct_json", "read_after_push"] {
            let call = &calls[name];
            for method in [GET, SERVING_GET] {
                let ours = call_raw(&ch, method, request(call)).await.unwrap();
                assert_same_columns(&ours, &response(call));
            }
        }
        // An unknown feature service: Feast's message, as NOT_FOUND (`feast listen` says
        // INTERNAL, for every error it does not expect; a client branches on NOT_FOUND).
        let call = &calls["unknown_feature_service"];
        let e = call_raw(&ch, GET, request(call)).await.unwrap_err();
        assert_eq!(e.code(), Code::NotFound);
        assert_eq!(e.message(), call["details"].as_str().unwrap());
    });
}

#[test]
fn what_feast_listen_cannot_serve_is_served() {
    let calls = observed();
    let (_tmp, _server, addr) = serve_feast_repo_over_grpc(&[]);
    runtime().block_on(async {
        let ch = channel(&addr).await;
        // A feature service with an on-demand view and its request data in
        // `request_context`: `feast listen` ignores the field and fails.
        let call = &calls["feature_service_with_request_context"];
        assert_eq!(call["grpc_status"], "StatusCode.UNKNOWN");
        let ours = call_raw(&ch, GET, request(call)).await.unwrap();
        let cols = columns(&ours);
        let (values, statuses, _) = &cols["conv_rate_plus_val1"];
        assert_eq!(statuses, &[1]);
        let conv = &cols["conv_rate"].0[0];
        let (Some(Value::Double(plus)), Some(Value::Float(conv))) = (&values[0], conv) else {
            panic!("{cols:?}");
        };
        assert!(
            (plus - (*conv as f64 + 1000.0)).abs() < 1e-4,
            "{plus} {conv}"
        );
        // The same request data given as entities, which `feast listen` cannot convert.
        let call = &calls["feature_service_request_data_in_entities"];
        let moved = call_raw(&ch, GET, request(call)).await.unwrap();
        assert_eq!(columns(&moved), cols);
    });
}

#[test]
fn a_recorded_push_is_acknowledged_and_read_back_as_feast_read_it() {
    let calls = observed();
    let (_tmp, _server, addr) = serve_feast_repo_over_grpc(&[]);
    runtime().block_on(async {
        let ch = channel(&addr).await;
        // Columns of the view left out: refused (as by Feast), and nothing is written.
        let call = &calls["push_string_features"];
        let e = call_raw(&ch, PUSH, request(call)).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
        let before = call_raw(&ch, GET, request(&calls["read_after_push"]))
            .await
            .unwrap();
        assert_same_columns(&before, &response(&calls["read_after_push"]));
        // Every column, as strings: acknowledged with Feast's exact bytes...
        let call = &calls["push_string_all_features"];
        let ours = call_raw(&ch, PUSH, request(call)).await.unwrap();
        assert_eq!(ours, response(call));
        assert!(PushResponse::decode(&ours[..]).unwrap().status);
        // ...and the next read answers what Feast's did.
        let call = &calls["read_after_push_all"];
        let ours = call_raw(&ch, GET, request(call)).await.unwrap();
        assert_same_columns(&ours, &response(call));
        // Typed features with a map, which Feast's Arrow conversion refuses: written.
        let call = &calls["push_typed_all_features"];
        let ours = call_raw(&ch, PUSH, request(call)).await.unwrap();
        assert!(PushResponse::decode(&ours[..]).unwrap().status);
    });
}

async fn health_of(ch: &Channel, service: &str) -> ServingStatus {
    let status = HealthClient::new(ch.clone())
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    ServingStatus::try_from(status).unwrap()
}

#[test]
fn health_follows_the_store_and_reflection_lists_the_services() {
    // `-r 0`: the registry is re-read on every change, so its damage shows at once.
    let (tmp, _server, addr) = serve_feast_repo_over_grpc(&["-r", "0"]);
    runtime().block_on(async {
        let ch = channel(&addr).await;
        for service in ["", "feast.serving.ServingService", "GrpcFeatureServer"] {
            assert_eq!(health_of(&ch, service).await, ServingStatus::Serving);
        }
        // A registry that cannot be read: NOT_SERVING (as /health answers 503), and SERVING
        // again once it is whole.
        let registry = tmp.path().join("feature_repo/data/registry.db");
        let good = std::fs::read(&registry).unwrap();
        let wait_for = async |wanted: ServingStatus| {
            for _ in 0..100 {
                if health_of(&ch, "GrpcFeatureServer").await == wanted {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("health never became {wanted:?}");
        };
        std::fs::write(&registry, b"\xff torn").unwrap();
        wait_for(ServingStatus::NotServing).await;
        std::fs::write(&registry, good).unwrap();
        wait_for(ServingStatus::Serving).await;

        // Reflection: the services a tool can call, and their descriptors.
        let list = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut answers = ServerReflectionClient::new(ch.clone())
            .server_reflection_info(tokio_stream_once(list))
            .await
            .unwrap()
            .into_inner();
        let Some(MessageResponse::ListServicesResponse(services)) =
            answers.message().await.unwrap().unwrap().message_response
        else {
            panic!("not a list of services");
        };
        let names: Vec<String> = services.service.into_iter().map(|s| s.name).collect();
        for expected in ["feast.serving.ServingService", "GrpcFeatureServer"] {
            assert!(names.iter().any(|n| n == expected), "{names:?}");
        }
        let file = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(
                "feast.serving.ServingService".into(),
            )),
        };
        let mut answers = ServerReflectionClient::new(ch)
            .server_reflection_info(tokio_stream_once(file))
            .await
            .unwrap()
            .into_inner();
        let Some(MessageResponse::FileDescriptorResponse(files)) =
            answers.message().await.unwrap().unwrap().message_response
        else {
            panic!("no descriptor for ServingService");
        };
        let file =
            prost_types::FileDescriptorProto::decode(&files.file_descriptor_proto[0][..]).unwrap();
        let service = &file.service[0];
        let methods: Vec<&str> = service.method.iter().map(|m| m.name()).collect();
        assert_eq!(methods, ["GetFeastServingInfo", "GetOnlineFeatures"]);
    });
}

/// A request stream of one message.
fn tokio_stream_once<T: Send + 'static>(item: T) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::iter([item])
}
