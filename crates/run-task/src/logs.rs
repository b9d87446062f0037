//! Following the container's CloudWatch Logs stream: GetLogEvents from the head, page by
//! page with the forward token, so every line is shown once and in order, without gaps.
//! The stream does not exist until the container writes its first line: until then there
//! is nothing to show.

use crate::{Line, Sink};
use infra_core::aws::AwsCallError;
use std::collections::VecDeque;

/// Events read per GetLogEvents call (AWS allows up to 10,000 or 1 MB): a long burst
/// reaches the screen in pages rather than all at once.
pub const PAGE: i32 = 1000;
/// Lines kept for the report.
pub const KEEP: usize = 20;

/// One stream, followed.
#[derive(Debug)]
pub struct LogFollower {
    client: aws_sdk_cloudwatchlogs::Client,
    group: String,
    stream: String,
    token: Option<String>,
    lines: u64,
    pages: u64,
    last: VecDeque<String>,
}

impl LogFollower {
    /// Follows `stream` of `group` from its first line.
    pub fn new(client: aws_sdk_cloudwatchlogs::Client, group: String, stream: String) -> Self {
        LogFollower {
            client,
            group,
            stream,
            token: None,
            lines: 0,
            pages: 0,
            last: VecDeque::new(),
        }
    }

    /// Reads what arrived since the last call, page by page until a page brings nothing
    /// new, and hands every line to `sink`; returns how many.
    pub async fn poll(&mut self, sink: &Sink) -> Result<u64, AwsCallError> {
        let mut read = 0;
        loop {
            let answer = self
                .client
                .get_log_events()
                .log_group_name(&self.group)
                .log_stream_name(&self.stream)
                .start_from_head(true)
                .limit(PAGE)
                .set_next_token(self.token.clone())
                .send()
                .await
                .map_err(AwsCallError::on(
                    "logs:GetLogEvents",
                    format!("{}:{}", self.group, self.stream),
                ));
            let out = match answer {
                Ok(out) => out,
                // Not written yet.
                Err(e) if e.is_not_found() => return Ok(read),
                Err(e) => return Err(e),
            };
            let events = out.events();
            self.pages += 1;
            for event in events {
                let message = event
                    .message()
                    .unwrap_or_default()
                    .trim_end_matches(['\n', '\r']);
                sink(Line::Log(message));
                if self.last.len() == KEEP {
                    self.last.pop_front();
                }
                self.last.push_back(message.to_owned());
            }
            read += events.len() as u64;
            self.lines += events.len() as u64;
            let next = out.next_forward_token().map(str::to_owned);
            // The same token back: the end of the stream for now.
            let at_end = events.is_empty() || next.is_none() || next == self.token;
            if next.is_some() {
                self.token = next;
            }
            if at_end {
                return Ok(read);
            }
        }
    }

    /// Lines shown so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// GetLogEvents answers read so far.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// The last lines, oldest first.
    pub fn last_lines(&self) -> Vec<String> {
        self.last.iter().cloned().collect()
    }

    /// The group and the stream.
    pub fn source(&self) -> (&str, &str) {
        (&self.group, &self.stream)
    }
}
