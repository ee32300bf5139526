//! Sending to our SQS queues: one client, one serialisation, one error type. Which failures
//! matter is the caller's call: a change notice that is not queued is logged (the versions
//! are committed; devices also sync on launch and on a timer), a purge request that is not
//! queued stays pending in `account_purges`.

use serde::Serialize;

/// One queue, by URL.
#[derive(Clone, Debug)]
pub struct Queue {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl Queue {
    pub fn new(sqs: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Queue {
            sqs,
            url: url.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn client(&self) -> &aws_sdk_sqs::Client {
        &self.sqs
    }

    /// Sends `message` as one JSON message.
    pub async fn send<T: Serialize>(&self, message: &T) -> Result<(), anyhow::Error> {
        let body = serde_json::to_string(message)?;
        self.sqs
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context(format!("SendMessage to {}", self.url)))?;
        Ok(())
    }
}
