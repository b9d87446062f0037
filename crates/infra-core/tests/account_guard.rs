//! The account guard against the emulator (moto answers GetCallerIdentity with account
//! 123456789012, the reference environment's).

use infra_core::aws::AccountGuardError;
use infra_core::aws::{check_account, AwsCallErrorKind};
use infra_core::environment::Environment;
use infra_test_support::{reference_env_file, Moto};

#[tokio::test]
async fn guard_passes_when_the_account_matches() {
    let session = Moto::session();
    let env = Environment::load(&reference_env_file()).unwrap();
    let sts = aws_sdk_sts::Client::new(&session.sdk_config().await);
    let identity = check_account(&sts, &env).await.unwrap();
    assert_eq!(identity.account, "123456789012");
    assert!(identity.arn.starts_with("arn:aws:"), "{}", identity.arn);
}

#[tokio::test]
async fn guard_refuses_another_account() {
    let session = Moto::session();
    let text = std::fs::read_to_string(reference_env_file())
        .unwrap()
        .replace("\"123456789012\"", "\"210987654321\"");
    let env = Environment::parse(&text, &reference_env_file()).unwrap();
    let sts = aws_sdk_sts::Client::new(&session.sdk_config().await);
    let err = check_account(&sts, &env).await.unwrap_err();
    match &err {
        AccountGuardError::WrongAccount {
            expected, actual, ..
        } => {
            assert_eq!(expected, "210987654321");
            assert_eq!(actual, "123456789012");
        }
        other => panic!("expected WrongAccount, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("refusing to act")
            && message.contains("210987654321")
            && message.contains("123456789012"),
        "{message}"
    );
}

#[tokio::test]
async fn guard_fails_clearly_when_the_emulator_is_down() {
    // A port nothing listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .region(aws_config::Region::new("eu-west-2"))
        .credentials_provider(aws_sdk_sts::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
        .load()
        .await;
    let env = Environment::load(&reference_env_file()).unwrap();
    let err = check_account(&aws_sdk_sts::Client::new(&config), &env)
        .await
        .unwrap_err();
    match &err {
        AccountGuardError::Sts(call) => {
            assert_eq!(call.kind, AwsCallErrorKind::Dispatch);
            assert_eq!(call.operation, "sts:GetCallerIdentity");
        }
        other => panic!("expected an STS failure, got {other:?}"),
    }
    assert!(
        err.to_string().contains("cannot reach the AWS endpoint"),
        "{err}"
    );
}
