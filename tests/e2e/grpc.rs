//! The gRPC front with the real binary and a Rust client (tonic, over the messages the crate
//! generates from its `.proto` subset): the same answers as HTTP for the same requests, field
//! by field; on-demand views with request data; pushes; errors as status codes; TLS; OIDC;
//! health and reflection; and a Feast repo answering what Feast's own gRPC server answered.

use std::collections::BTreeMap;

use edgefeat::proto::WireValue;
use edgefeat::proto::client::feast::serving::get_online_features_request::Kind;
use edgefeat::proto::client::feast::serving::serving_service_client::ServingServiceClient;
use edgefeat::proto::client::feast::serving::{
    FeatureList, GetFeastServingInfoRequest, GetOnlineFeaturesRequest, GetOnlineFeaturesResponse,
};
use edgefeat::proto::client::grpc_server::PushRequest;
use edgefeat::proto::client::grpc_server::grpc_feature_server_client::GrpcFeatureServerClient;
use edgefeat::proto::feast::types::RepeatedValue;
use edgefeat::types::Value;
use prost::Message;
use serde_json::{Value as Json, json};
use tonic::Code;

use crate::grpc_client::{call_raw, channel, runtime};
use crate::http::Server;
use crate::support::{clock, demo_repo, run};

/// The demo, applied and materialized up to now.
pub(crate) fn materialized_demo() -> (tempfile::TempDir, std::path::PathBuf) {
    let (tmp, repo) = demo_repo();
    run(&repo, &["apply"]).success();
    run(
        &repo,
        &["materialize-incremental", &clock::now().to_rfc3339()],
    )
    .success();
    (tmp, repo)
}

/// The demo, applied and materialized up to now, served over HTTP with gRPC beside it:
/// (HTTP server, gRPC address).
fn served_demo() -> (tempfile::TempDir, Server, String) {
    let (tmp, repo) = materialized_demo();
    let (server, addrs) = Server::start_with_lines(&repo, &["--grpc-port", "0"], 2);
    (tmp, server, addrs[1].clone())
}

fn column(values: &[Value]) -> RepeatedValue {
    RepeatedValue {
        val: values
            .iter()
            .map(|v| WireValue::encode(v).unwrap())
            .collect(),
    }
}

fn features_request(features: &[&str], entities: &[(&str, &[Value])]) -> GetOnlineFeaturesRequest {
    GetOnlineFeaturesRequest {
        kind: Some(Kind::Features(FeatureList {
            val: features.iter().map(|f| f.to_string()).collect(),
        })),
        entities: entities
            .iter()
            .map(|(n, v)| (n.to_string(), column(v)))
            .collect(),
        ..Default::default()
    }
}

const STATUS_NAMES: [&str; 5] = [
    "INVALID",
    "PRESENT",
    "NULL_VALUE",
    "NOT_FOUND",
    "OUTSIDE_MAX_AGE",
];

/// Asserts that a gRPC response says what the HTTP response says, column by column: names,
/// values (compared as JSON, as HTTP renders them), statuses and event timestamps.
#[track_caller]
fn assert_same_answer(http: &Json, grpc: &GetOnlineFeaturesResponse) {
    let names = &grpc
        .metadata
        .as_ref()
        .unwrap()
        .feature_names
        .as_ref()
        .unwrap()
        .val;
    assert_eq!(http["metadata"]["feature_names"], json!(names));
    assert_eq!(
        http["results"].as_array().unwrap().len(),
        grpc.results.len()
    );
    for (i, (h, g)) in http["results"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&grpc.results)
        .enumerate()
    {
        let values: Vec<Json> = g
            .values
            .iter()
            .map(|v| edgefeat::types::json::value_to_json(v.value().unwrap()))
            .collect();
        assert_eq!(h["values"], json!(values), "values of column {i}");
        let statuses: Vec<&str> = g
            .statuses
            .iter()
            .map(|s| STATUS_NAMES[*s as usize])
            .collect();
        assert_eq!(h["statuses"], json!(statuses), "statuses of column {i}");
        let stamps: Vec<String> = g
            .event_timestamps
            .iter()
            .map(|t| {
                chrono::DateTime::from_timestamp(t.seconds, t.nanos as u32)
                    .unwrap()
                    .format("%Y-%m-%dT%H:%M:%SZ")
                    .to_string()
            })
            .collect();
        assert_eq!(
            h["event_timestamps"],
            json!(stamps),
            "timestamps of column {i}"
        );
    }
}

#[test]
fn the_seed_request_answers_what_http_answers() {
    let (_tmp, server, grpc) = served_demo();
    let http = server.post_json(
        "/get-online-features",
        r#"{"features":["driver_hourly_stats:conv_rate","driver_hourly_stats:acc_rate","driver_hourly_stats:avg_daily_trips"],"entities":{"driver_id":[1001,1002,9999]}}"#,
    );
    assert_eq!(http.status, 200, "{}", http.text());
    let req = features_request(
        &[
            "driver_hourly_stats:conv_rate",
            "driver_hourly_stats:acc_rate",
            "driver_hourly_stats:avg_daily_trips",
        ],
        &[(
            "driver_id",
            &[Value::Int64(1001), Value::Int64(1002), Value::Int64(9999)],
        )],
    );
    runtime().block_on(async {
        let ch = channel(&grpc).await;
        // Both services answer the same call the same way.
        let a = ServingServiceClient::new(ch.clone())
            .get_online_features(req.clone())
            .await
            .unwrap()
            .into_inner();
        let b = GrpcFeatureServerClient::new(ch.clone())
            .get_online_features(req)
            .await
            .unwrap()
            .into_inner();
        assert_same_answer(&http.json(), &a);
        assert_eq!(a, b);
        // The missing driver: a null value (the empty message), NOT_FOUND, an empty timestamp.
        let conv = &a.results[1];
        assert_eq!(conv.values[2].as_bytes(), b"");
        assert_eq!(conv.statuses[2], 3);
        assert_eq!(conv.event_timestamps[2], prost_types::Timestamp::default());
        let info = ServingServiceClient::new(ch)
            .get_feast_serving_info(GetFeastServingInfoRequest {})
            .await
            .unwrap()
            .into_inner();
        assert!(info.version.starts_with("edgefeat "), "{}", info.version);
    });
    // The calls are counted beside the HTTP front's metrics, by method and status code.
    let metrics = server.get("/metrics").text();
    for method in [
        "ServingService/GetOnlineFeatures",
        "GrpcFeatureServer/GetOnlineFeatures",
    ] {
        let line = format!(r#"edgefeat_grpc_requests_total{{method="{method}",code="OK"}} 1"#);
        assert!(metrics.contains(&line), "{line} not in\n{metrics}");
    }
    assert!(metrics.contains("edgefeat_grpc_request_duration_seconds"));
}

#[test]
fn a_feature_service_with_an_on_demand_view_takes_request_data() {
    let (_tmp, server, grpc) = served_demo();
    let http = server.post_json(
        "/get-online-features",
        r#"{"feature_service":"driver_activity_v1","entities":{"driver_id":[1001,1002],"val_to_add":[1000,1],"val_to_add_2":[2000,2]},"full_feature_names":true}"#,
    );
    assert_eq!(http.status, 200, "{}", http.text());
    let req = GetOnlineFeaturesRequest {
        kind: Some(Kind::FeatureService("driver_activity_v1".into())),
        entities: [(
            "driver_id".to_string(),
            column(&[Value::Int64(1001), Value::Int64(1002)]),
        )]
        .into(),
        request_context: [
            (
                "val_to_add".to_string(),
                column(&[Value::Int64(1000), Value::Int64(1)]),
            ),
            (
                "val_to_add_2".to_string(),
                column(&[Value::Int64(2000), Value::Int64(2)]),
            ),
        ]
        .into(),
        full_feature_names: true,
        ..Default::default()
    };
    runtime().block_on(async {
        let got = ServingServiceClient::new(channel(&grpc).await)
            .get_online_features(req)
            .await
            .unwrap()
            .into_inner();
        assert_same_answer(&http.json(), &got);
        let names = &got.metadata.unwrap().feature_names.unwrap().val;
        assert!(
            names.contains(&"transformed_conv_rate__conv_rate_plus_val1".to_string()),
            "{names:?}"
        );
    });
}

#[test]
fn errors_are_status_codes_with_feasts_messages() {
    let (_tmp, _server, grpc) = served_demo();
    runtime().block_on(async {
        let mut client = ServingServiceClient::new(channel(&grpc).await);
        let unknown = client
            .get_online_features(features_request(
                &["nope:x"],
                &[("driver_id", &[Value::Int64(1001)])],
            ))
            .await
            .unwrap_err();
        assert_eq!(unknown.code(), Code::NotFound);
        assert_eq!(
            unknown.message(),
            "Feature view nope does not exist in project demo"
        );
        let service = client
            .get_online_features(GetOnlineFeaturesRequest {
                kind: Some(Kind::FeatureService("no_such_service".into())),
                entities: [("driver_id".to_string(), column(&[Value::Int64(1)]))].into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(service.code(), Code::NotFound);
        assert_eq!(
            service.message(),
            "Feature service no_such_service does not exist in project demo"
        );
        // Columns of different lengths, and no entities at all: the caller's mistake.
        let ragged = client
            .get_online_features(features_request(
                &["driver_hourly_stats:conv_rate"],
                &[
                    ("driver_id", &[Value::Int64(1001), Value::Int64(1002)]),
                    ("val_to_add", &[Value::Int64(1)]),
                ],
            ))
            .await
            .unwrap_err();
        assert_eq!(ragged.code(), Code::InvalidArgument, "{ragged:?}");
        let none = client
            .get_online_features(features_request(&["driver_hourly_stats:conv_rate"], &[]))
            .await
            .unwrap_err();
        assert_eq!(none.code(), Code::InvalidArgument, "{none:?}");
        // Bytes no well-behaved client sends: refused as the caller's mistake, and the server
        // keeps serving. First a Value cut short inside an otherwise whole request...
        let ch = channel(&grpc).await;
        let mut raw = features_request(
            &["driver_hourly_stats:conv_rate"],
            &[("driver_id", &[Value::Int64(1001)])],
        )
        .encode_to_vec();
        raw.extend_from_slice(&[
            0x1a, 0x09, 0x0a, 0x01, b'x', 0x12, 0x04, 0x0a, 0x02, 0xa2, 0x02,
        ]);
        const METHOD: &str = "/feast.serving.ServingService/GetOnlineFeatures";
        let torn_value = call_raw(&ch, METHOD, raw).await.unwrap_err();
        assert_eq!(torn_value.code(), Code::InvalidArgument, "{torn_value:?}");
        // ...then a message whose first field runs past its end.
        let torn = call_raw(&ch, METHOD, vec![0x12, 0x44, 0x0a])
            .await
            .unwrap_err();
        assert_eq!(torn.code(), Code::InvalidArgument, "{torn:?}");
        // ...and a message over the body limit (16 MiB), refused before it is read.
        let huge = call_raw(&ch, METHOD, vec![0u8; (16 << 20) + 1])
            .await
            .unwrap_err();
        assert_eq!(huge.code(), Code::OutOfRange, "{huge:?}");
        let ok = client
            .get_online_features(features_request(
                &["driver_hourly_stats:conv_rate"],
                &[("driver_id", &[Value::Int64(1001)])],
            ))
            .await
            .unwrap();
        assert_eq!(ok.into_inner().results[1].statuses, [1]);
    });
}

#[test]
fn a_push_is_read_back_over_grpc_and_http() {
    // The demo's push source feeds `driver_hourly_stats_fresh`; every value a string, as
    // Feast's gRPC server takes them.
    let (_tmp, server, grpc) = served_demo();
    let ts = clock::pandas(clock::after_demo_data());
    let features: BTreeMap<String, String> = [
        ("driver_id", "1001"),
        ("event_timestamp", ts.as_str()),
        ("created", ts.as_str()),
        ("conv_rate", "0.25"),
        ("acc_rate", "0.5"),
        ("avg_daily_trips", "77"),
        (
            "driver_metadata",
            r#"{"vehicle_type": "truck", "rating": "4.9"}"#,
        ),
        ("driver_config", r#"{"max_distance_km": 50}"#),
        ("driver_profile", r#"{"name": "pushed", "age": "40"}"#),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    runtime().block_on(async {
        let ch = channel(&grpc).await;
        let mut writer = GrpcFeatureServerClient::new(ch.clone());
        let pushed = writer
            .push(PushRequest {
                features,
                stream_feature_view: "driver_stats_push_source".into(),
                to: "online".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(pushed.status);
        let got = ServingServiceClient::new(ch)
            .get_online_features(features_request(
                &[
                    "driver_hourly_stats_fresh:conv_rate",
                    "driver_hourly_stats_fresh:avg_daily_trips",
                    "driver_hourly_stats_fresh:driver_metadata",
                ],
                &[("driver_id", &[Value::Int64(1001)])],
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            got.results[1].values[0].value().unwrap(),
            Value::Float(0.25)
        );
        assert_eq!(got.results[2].values[0].value().unwrap(), Value::Int64(77));
        assert_eq!(
            edgefeat::types::json::value_to_json(got.results[3].values[0].value().unwrap()),
            json!({"vehicle_type": "truck", "rating": "4.9"})
        );
        // An unknown push source is the caller's mistake, with Feast's message.
        let unknown = writer
            .push(PushRequest {
                features: [("driver_id".to_string(), "1".to_string())].into(),
                stream_feature_view: "nope".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(unknown.code(), Code::InvalidArgument);
        assert_eq!(unknown.message(), "Unable to find push source 'nope'.");
    });
    let http = server.post_json(
        "/get-online-features",
        r#"{"features":["driver_hourly_stats_fresh:avg_daily_trips"],"entities":{"driver_id":[1001]}}"#,
    );
    assert_eq!(http.json()["results"][1]["values"], json!([77]));
}

#[test]
fn sigterm_drains_both_fronts_with_a_grpc_connection_open() {
    let (_tmp, server, grpc) = served_demo();
    // A runtime with a worker of its own: the client's connection task must keep running
    // (answering the server's GOAWAY ping) while this thread waits for the server to exit.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // An HTTP/2 connection that stays open and idle after its call: the server must close it
    // (GOAWAY) on the way out instead of waiting for the client to leave.
    let ch = rt.block_on(channel(&grpc));
    let req = features_request(
        &["driver_hourly_stats:conv_rate"],
        &[("driver_id", &[Value::Int64(1001)])],
    );
    rt.block_on(ServingServiceClient::new(ch.clone()).get_online_features(req.clone()))
        .unwrap();
    server.signal("-TERM");
    let status = server
        .wait(std::time::Duration::from_secs(10))
        .expect("the server stops with a gRPC connection open");
    assert!(status.success(), "{status}");
    let after = rt.block_on(ServingServiceClient::new(ch).get_online_features(req));
    assert_eq!(after.unwrap_err().code(), Code::Unavailable);
}
