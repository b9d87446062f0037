//! HTTPS with certificates made here: a test CA, and leaves that are valid, near expiry,
//! expired, or for another host.

use crate::support::*;
use std::sync::Arc;

struct Ca {
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
    pem: String,
}

fn ca() -> Ca {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "verify-endpoints test CA");
    let pem = params.self_signed(&key).unwrap().pem();
    Ca { params, key, pem }
}

/// A server on 127.0.0.1 presenting a leaf for `host`, valid from `from` to `until` days
/// from now (negative: in the past).
fn server(ca: &Ca, host: &str, from: i64, until: i64) -> HttpStub {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![host.to_owned()]).unwrap();
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now + time::Duration::days(from);
    params.not_after = now + time::Duration::days(until);
    let issuer = rcgen::Issuer::from_params(&ca.params, &ca.key);
    let leaf = params.signed_by(&key, &issuer).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    HttpStub::start_tls(
        vec![("/health", vec![Answer::json(200, r#"{"status":"ok"}"#)])],
        Arc::new(config),
    )
}

fn check(stub: &HttpStub, ca_pem: Option<&str>) -> (Run, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let url = stub
        .url("/health")
        .replace("http://127.0.0.1", "https://localhost");
    let env = env_file(&dir, &[("portal", url, OK_JSON)]);
    let mut args = vec!["--output", "json", "--deadline", "5s"];
    let ca_file = dir.path().join("ca.pem");
    if let Some(pem) = ca_pem {
        std::fs::write(&ca_file, pem).unwrap();
        args.extend(["--ca-file", ca_file.to_str().unwrap()]);
    }
    let r = verify(&env, &args);
    let v = r.json()["endpoints"][0].clone();
    (r, v)
}

#[test]
fn valid_certificate_passes() {
    let ca = ca();
    let stub = server(&ca, "localhost", -1, 90);
    let (r, e) = check(&stub, Some(&ca.pem));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let days = e["cert_days_left"].as_i64().unwrap();
    assert!((89..=90).contains(&days), "{e}");
    assert_eq!(e["warnings"], serde_json::json!([]));
    assert!(e["timings"]["tls_ms"].as_f64().unwrap() > 0.0, "{e}");
}

#[test]
fn near_expiry_warns_then_fails() {
    let ca = ca();
    let stub = server(&ca, "localhost", -30, 10);
    let (r, e) = check(&stub, Some(&ca.pem));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let warning = e["warnings"][0].as_str().unwrap_or_default();
    assert!(
        warning.starts_with("the certificate for localhost expires in "),
        "{e}"
    );
    let stub = server(&ca, "localhost", -30, 3);
    let (r, e) = check(&stub, Some(&ca.pem));
    assert_eq!(r.code, 1);
    assert_eq!(
        (e["attempts"].as_u64(), e["outcome"].as_str()),
        (Some(1), Some("failed")),
        "{e}"
    );
    let actual = e["actual"].as_str().unwrap();
    assert!(
        actual.contains("expires in 2 days") || actual.contains("expires in 3 days"),
        "{e}"
    );
}

#[test]
fn expired_wrong_host_and_untrusted_certificates_fail_at_once() {
    let ca = ca();
    for (stub, trust, expected) in [
        (server(&ca, "localhost", -60, -1), true, "expired"),
        (server(&ca, "other.example", -1, 90), true, "name"),
        (server(&ca, "localhost", -1, 90), false, "issuer"),
    ] {
        let (r, e) = check(&stub, trust.then_some(ca.pem.as_str()));
        assert_eq!(r.code, 1, "{expected}: {}", r.stdout);
        assert_eq!(e["attempts"], 1, "TLS errors are not retried: {e}");
        let actual = e["actual"].as_str().unwrap();
        let lower = actual.to_lowercase();
        assert!(
            actual.contains("TLS handshake with localhost failed") && lower.contains(expected),
            "{expected}: {actual}"
        );
    }
}
