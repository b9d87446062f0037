//! Stability polls, batched: each service waiting to become stable asks for its own
//! service, and the polls of one cluster that are waiting at the same moment go out as one
//! DescribeServices of up to ten services (the API's limit). A park of 120 services polls
//! with a tenth of the calls, so the waits do not spend the describe bucket the other
//! environments' observations need.

use aws_sdk_ecs::types::Service;
use infra_core::aws::AwsCallError;
use rate_budget::Budget;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// DescribeServices takes at most this many services.
const BATCH: usize = 10;

type Answer = Result<Option<Service>, AwsCallError>;

/// A cluster's waiting polls, and whether a task is draining them.
#[derive(Debug, Default)]
struct Queue {
    waiting: Vec<(String, oneshot::Sender<Answer>)>,
    draining: bool,
}

/// The batcher: one queue per cluster, drained by one task while it has polls waiting.
#[derive(Debug)]
pub struct ServicePolls {
    ecs: aws_sdk_ecs::Client,
    budget: Arc<Budget>,
    queues: Mutex<HashMap<String, Queue>>,
}

impl ServicePolls {
    /// Polls through `ecs`, each DescribeServices waiting on `budget`.
    pub fn new(ecs: aws_sdk_ecs::Client, budget: Arc<Budget>) -> Arc<ServicePolls> {
        Arc::new(ServicePolls {
            ecs,
            budget,
            queues: Mutex::new(HashMap::new()),
        })
    }

    /// The service as DescribeServices answers now (`None`: not in the answer), read in a
    /// batch with the other polls of its cluster waiting at the same moment.
    pub async fn describe(self: &Arc<Self>, cluster: &str, service: &str) -> Answer {
        let (tx, rx) = oneshot::channel();
        let first = {
            let mut queues = self.queues.lock().expect("poll queues");
            let queue = queues.entry(cluster.to_owned()).or_default();
            queue.waiting.push((service.to_owned(), tx));
            !std::mem::replace(&mut queue.draining, true)
        };
        if first {
            // A task of its own, so a poll dropped by a stop or a deadline never leaves
            // the others of its batch waiting.
            tokio::spawn(Arc::clone(self).drain(cluster.to_owned()));
        }
        rx.await.unwrap_or_else(|_| {
            Err(AwsCallError {
                operation: "ecs:DescribeServices",
                resource: Some(format!("{cluster}/{service}")),
                code: None,
                message: "the poll was dropped before it was answered".into(),
                kind: infra_core::aws::AwsCallErrorKind::Dispatch,
                source: None,
            })
        })
    }

    /// Sends the cluster's waiting polls, ten at a time, until none is waiting.
    async fn drain(self: Arc<Self>, cluster: String) {
        loop {
            {
                let mut queues = self.queues.lock().expect("poll queues");
                if queues.get(&cluster).is_none_or(|q| q.waiting.is_empty()) {
                    queues.remove(&cluster);
                    return;
                }
            }
            // Waiting for the token lets more polls join the batch.
            self.budget.acquire("ecs", "DescribeServices").await;
            let batch: Vec<(String, oneshot::Sender<Answer>)> = {
                let mut queues = self.queues.lock().expect("poll queues");
                let queue = queues.entry(cluster.clone()).or_default();
                // Ten distinct services; a second poll of one waits for the next batch.
                let mut batch: Vec<(String, oneshot::Sender<Answer>)> = Vec::new();
                let mut rest = Vec::new();
                for (name, tx) in queue.waiting.drain(..) {
                    if batch.len() < BATCH && !batch.iter().any(|(b, _)| *b == name) {
                        batch.push((name, tx));
                    } else {
                        rest.push((name, tx));
                    }
                }
                queue.waiting = rest;
                batch
            };
            let names: Vec<String> = batch.iter().map(|(s, _)| s.clone()).collect();
            let out = self
                .ecs
                .describe_services()
                .cluster(&cluster)
                .set_services(Some(names))
                .send()
                .await;
            match out {
                Ok(out) => {
                    for (name, tx) in batch {
                        let found = out
                            .services()
                            .iter()
                            .find(|s| s.service_name() == Some(name.as_str()))
                            .cloned();
                        let _ = tx.send(Ok(found));
                    }
                }
                Err(e) => {
                    let e = AwsCallError::new("ecs:DescribeServices", Some(cluster.clone()), e);
                    for (name, tx) in batch {
                        let _ = tx.send(Err(AwsCallError {
                            operation: e.operation,
                            resource: Some(format!("{cluster}/{name}")),
                            code: e.code.clone(),
                            message: e.message.clone(),
                            kind: e.kind,
                            source: None,
                        }));
                    }
                }
            }
        }
    }
}
