//! The gRPC front's security with the real binary: TLS from `--cert/--key` (`-t grpc`, and
//! both fronts at once), and OIDC bearer tokens from the `authorization` metadata checked by
//! the same authenticator and permissions as HTTP, as UNAUTHENTICATED and PERMISSION_DENIED
//! with the messages of HTTP's 401 and 403.

use edgefeat::proto::WireValue;
use edgefeat::proto::client::feast::serving::FeatureList;
use edgefeat::proto::client::feast::serving::get_online_features_request::Kind;
use edgefeat::proto::client::feast::serving::serving_service_client::ServingServiceClient;
use edgefeat::proto::client::feast::serving::{
    GetOnlineFeaturesRequest, GetOnlineFeaturesResponse,
};
use edgefeat::proto::feast::types::RepeatedValue;
use edgefeat::types::Value;
use tonic::Code;
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

use crate::auth::{Key, claims, secured_with_jwks_file};
use crate::grpc::materialized_demo;
use crate::grpc_client::{channel, runtime};
use crate::http::Server;
use crate::tls::{install, pki};

fn read(view: &str) -> GetOnlineFeaturesRequest {
    GetOnlineFeaturesRequest {
        kind: Some(Kind::Features(FeatureList {
            val: vec![format!("{view}:conv_rate")],
        })),
        entities: [(
            "driver_id".to_string(),
            RepeatedValue {
                val: vec![WireValue::encode(&Value::Int64(1001)).unwrap()],
            },
        )]
        .into(),
        ..Default::default()
    }
}

/// A TLS channel to `addr` trusting only `ca_pem`.
async fn tls_channel(addr: &str, ca_pem: &str) -> Result<Channel, tonic::transport::Error> {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .domain_name("localhost");
    Channel::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)?
        .connect()
        .await
}

/// The demo's read over `channel`; a channel that could not connect fails the call as
/// UNAVAILABLE, as tonic's lazy channels do.
async fn read_over(
    channel: Result<Channel, tonic::transport::Error>,
) -> Result<GetOnlineFeaturesResponse, tonic::Status> {
    let channel = channel.map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    ServingServiceClient::new(channel)
        .get_online_features(read("driver_hourly_stats"))
        .await
        .map(|r| r.into_inner())
}

#[test]
fn grpc_serves_over_tls_alone_and_beside_https() {
    let (_tmp, repo) = materialized_demo();
    let trusted = pki("grpc");
    install(&repo, &trusted);
    let stranger = pki("stranger");
    let tls_args = ["--cert", "cert.pem", "--key", "key.pem"];

    // `-t grpc`: gRPC alone on --port, over TLS.
    let mut args = vec!["-t", "grpc"];
    args.extend(tls_args);
    let (server, addrs) = Server::start_with_lines(&repo, &args, 1);
    runtime().block_on(async {
        let got = read_over(tls_channel(&addrs[0], &trusted.ca_pem).await)
            .await
            .unwrap();
        assert_eq!(got.results[1].statuses, [1], "{got:?}");
        // A client that trusts another CA never gets a connection...
        let refused = read_over(tls_channel(&addrs[0], &stranger.ca_pem).await).await;
        assert!(refused.is_err(), "an untrusted certificate was accepted");
        // ...and neither does one in the clear.
        let clear = tonic::transport::Endpoint::from_shared(format!("http://{}", addrs[0]))
            .unwrap()
            .connect()
            .await;
        assert!(
            read_over(clear).await.is_err(),
            "a plaintext call was served on a TLS port"
        );
    });
    drop(server);

    // `--grpc-port`: both fronts over TLS with the same certificate.
    let mut args = vec!["--grpc-port", "0"];
    args.extend(tls_args);
    let (server, addrs) = Server::start_with_lines(&repo, &args, 2);
    runtime().block_on(async {
        let got = read_over(tls_channel(&addrs[1], &trusted.ca_pem).await)
            .await
            .unwrap();
        assert_eq!(got.results[1].statuses, [1]);
    });
    drop(server);
}

#[test]
fn tokens_and_permissions_are_checked_as_on_http() {
    let key = Key::es256("k1");
    let (_tmp, repo) = secured_with_jwks_file(&[&key]);
    let (_server, addrs) = Server::start_with_lines(&repo, &["--grpc-port", "0"], 2);
    let call = |token: Option<String>, view: &'static str| {
        let addr = addrs[1].clone();
        async move {
            let mut request = tonic::Request::new(read(view));
            if let Some(token) = token {
                let value: MetadataValue<_> = format!("Bearer {token}").parse().unwrap();
                request.metadata_mut().insert("authorization", value);
            }
            ServingServiceClient::new(channel(&addr).await)
                .get_online_features(request)
                .await
        }
    };
    runtime().block_on(async {
        // The right role: served.
        let reader = key.sign(&claims(&["reader"]));
        let ok = call(Some(reader.clone()), "driver_hourly_stats").await.unwrap();
        assert_eq!(ok.into_inner().results[1].statuses, [1]);

        // No token, a forged one, one signed by a key the server does not know: HTTP's 401,
        // as UNAUTHENTICATED with its detail.
        for token in [None, Some("garbage".to_string())] {
            let e = call(token, "driver_hourly_stats").await.unwrap_err();
            assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
            assert_eq!(e.message(), "Invalid or expired access token");
        }
        let unknown = Key::es256("k1").sign(&claims(&["reader"]));
        let e = call(Some(unknown), "driver_hourly_stats")
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");

        // A valid token without the role: HTTP's 403, as PERMISSION_DENIED with Feast's
        // message.
        let nobody = key.sign(&claims(&[]));
        let e = call(Some(nobody), "driver_hourly_stats").await.unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
        assert_eq!(
            e.message(),
            "Permission error:\nPermission readers denied execution of ['READ_ONLINE'] to FeatureView:driver_hourly_stats: Requires roles ['reader']"
        );
        // Permissions are per view: a fresh-reader reads the fresh view, not the other.
        let fresh = key.sign(&claims(&["fresh-reader"]));
        call(Some(fresh.clone()), "driver_hourly_stats_fresh")
            .await
            .unwrap();
        let e = call(Some(fresh), "driver_hourly_stats").await.unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    });
}
