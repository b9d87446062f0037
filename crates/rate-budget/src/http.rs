//! The HTTP client every SDK client of a run sends through: the SDK's default HTTPS client,
//! with each attempt counted against the [`Budget`] and each throttling answer reported to
//! it. It sees every attempt, retries included, which the call sites cannot.

use crate::{Budget, Category};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use std::sync::Arc;

/// The SDK's default HTTPS client (rustls, proxy settings from the environment) with the
/// budget's accounting around each attempt.
#[derive(Debug, Clone)]
pub struct BudgetedHttpClient {
    inner: SharedHttpClient,
    budget: Arc<Budget>,
}

impl BudgetedHttpClient {
    /// The default HTTPS client, counted against `budget`.
    pub fn new(budget: Arc<Budget>) -> BudgetedHttpClient {
        use aws_smithy_http_client::{proxy::ProxyConfig, tls, Builder, ConnectorBuilder};
        // As the SDK builds its default client (aws-smithy-runtime's
        // `default_https_client`): rustls with aws-lc, and the proxy settings of the
        // environment (HTTPS_PROXY, NO_PROXY…), so a run behind a proxy still works.
        let inner = Builder::new().build_with_connector_fn(|settings, components| {
            let mut builder = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ));
            builder.set_connector_settings(settings.cloned());
            if let Some(components) = components {
                builder.set_sleep_impl(components.sleep_impl());
            }
            builder.set_proxy_config(Some(ProxyConfig::from_env()));
            builder.build()
        });
        BudgetedHttpClient { inner, budget }
    }
}

impl HttpClient for BudgetedHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(BudgetedConnector {
            inner: self.inner.http_connector(settings, components),
            budget: Arc::clone(&self.budget),
        })
    }
}

#[derive(Debug)]
struct BudgetedConnector {
    inner: SharedHttpConnector,
    budget: Arc<Budget>,
}

/// The largest error answer read to see whether it is a throttling error.
const LARGEST_ERROR_BODY: usize = 64 * 1024;

impl HttpConnector for BudgetedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let Some(category) = category(&request) else {
            return self.inner.call(request);
        };
        let (inner, budget) = (self.inner.clone(), Arc::clone(&self.budget));
        HttpConnectorFuture::new(async move {
            budget.attempt(category).await;
            let mut response = inner.call(request).await?;
            let status = response.status().as_u16();
            if status != 400 && status != 429 {
                return Ok(response);
            }
            let header = response
                .headers()
                .get("x-amzn-errortype")
                .map(str::to_owned);
            let body = response.take_body();
            let small = body
                .content_length()
                .is_some_and(|n| n as usize <= LARGEST_ERROR_BODY);
            let throttled = if header.as_deref().is_some_and(is_throttling) {
                *response.body_mut() = body;
                true
            } else if small {
                // Read the error document, then hand the SDK the same bytes.
                let bytes = ByteStream::new(body)
                    .collect()
                    .await
                    .map(|b| b.into_bytes())
                    .unwrap_or_default();
                let throttled = std::str::from_utf8(&bytes).is_ok_and(is_throttling);
                *response.body_mut() = SdkBody::from(bytes);
                throttled
            } else {
                *response.body_mut() = body;
                false
            };
            if throttled || status == 429 {
                budget.throttled(category);
            }
            Ok(response)
        })
    }
}

/// Whether an error code or document says the call was throttled (ECS and Application
/// Auto Scaling answer `ThrottlingException`; others `Throttling`, `RequestLimitExceeded`,
/// `TooManyRequestsException`).
fn is_throttling(text: &str) -> bool {
    ["Throttling", "RequestLimitExceeded", "TooManyRequests"]
        .iter()
        .any(|code| text.contains(code))
}

/// The metered category of an awsJson request, from its `X-Amz-Target`
/// (`AmazonEC2ContainerServiceV20141113.UpdateService`).
fn category(request: &HttpRequest) -> Option<Category> {
    let target = request.headers().get("x-amz-target")?;
    let (prefix, operation) = target.split_once('.')?;
    let service = match prefix {
        "AmazonEC2ContainerServiceV20141113" => "ecs",
        "AnyScaleFrontendService" => "application-autoscaling",
        _ => return None,
    };
    Category::of(service, operation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_metered_by_its_target() {
        let request = |target: &str| {
            let mut r = HttpRequest::empty();
            r.headers_mut().insert("X-Amz-Target", target.to_owned());
            r
        };
        for (target, category_) in [
            (
                "AmazonEC2ContainerServiceV20141113.UpdateService",
                Some(Category::EcsServiceModify),
            ),
            (
                "AnyScaleFrontendService.RegisterScalableTarget",
                Some(Category::AutoScalingModify),
            ),
            ("DynamoDB_20120810.PutItem", None),
            ("nonsense", None),
        ] {
            assert_eq!(category(&request(target)), category_, "{target}");
        }
        assert_eq!(category(&HttpRequest::empty()), None);
        assert!(is_throttling(
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#
        ));
        assert!(!is_throttling(r#"{"__type":"ServiceNotActiveException"}"#));
    }
}
