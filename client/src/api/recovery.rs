//! The recovery endpoints: a note's versions, the deleted notes, restoring versions, and
//! rewinding the vault or a folder to a moment. Requests are the protocol's bodies; answers
//! come back as the server's JSON, which `steel-sync --json` prints as is and the human
//! output reads field by field.

use reqwest::{Method, Url};
use serde_json::{Number, Value};
use steel_protocol::wire::{RestoreEntry, RestoreRequest};

use super::Api;
use crate::error::Result;
use crate::faults::Op;

/// Versions per page of `history` and notes per page of `deleted` and of a rewind.
const PAGE: u32 = 1000;

/// `route?name=value&...`, every value percent-encoded (paths have spaces and accents).
fn with_query(route: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = Url::parse("http://api.invalid").expect("static URL");
    url.set_path(route);
    url.query_pairs_mut().extend_pairs(pairs);
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

impl Api {
    /// Every version of `path` the server keeps, newest first (all pages).
    pub async fn history(&self, path: &str) -> Result<Vec<Value>> {
        let limit = PAGE.to_string();
        self.all_pages(Op::History, "versions", |cursor| {
            let mut q = vec![("path", path), ("limit", limit.as_str())];
            q.extend(cursor.map(|c| ("cursor", c)));
            with_query("/vault/history", &q)
        })
        .await
    }

    /// Every deleted note, most recently deleted first (all pages).
    pub async fn deleted(&self) -> Result<Vec<Value>> {
        let limit = PAGE.to_string();
        self.all_pages(Op::Deleted, "files", |cursor| {
            let mut q = vec![("limit", limit.as_str())];
            q.extend(cursor.map(|c| ("cursor", c)));
            with_query("/vault/deleted", &q)
        })
        .await
    }

    async fn all_pages(
        &self,
        op: Op,
        items: &str,
        url: impl Fn(Option<&str>) -> String,
    ) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page: Value = self
                .call(op, Method::GET, &url(cursor.as_deref()), None::<&()>)
                .await?;
            if let Some(list) = page[items].as_array() {
                out.extend(list.iter().cloned());
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return Ok(out),
            }
        }
    }

    /// Makes `version` of `path` its newest version, checked against `base_version`.
    pub async fn restore(&self, path: &str, version: i64, base_version: i64) -> Result<Value> {
        let body = RestoreRequest {
            files: Some(vec![RestoreEntry {
                path: path.to_owned(),
                version: Number::from(version),
                base_version: Number::from(base_version),
            }]),
            ..RestoreRequest::default()
        };
        self.call(Op::Restore, Method::POST, "/vault/restore", Some(&body))
            .await
    }

    /// Rewinds the vault (or `prefix`) to `as_of`, page after page until done; the pages'
    /// answers, in order.
    pub async fn rewind(
        &self,
        as_of: &str,
        prefix: Option<&str>,
        remove_newer: bool,
    ) -> Result<Vec<Value>> {
        let mut pages = Vec::new();
        let mut resume: Option<String> = None;
        loop {
            let body = RestoreRequest {
                as_of: Some(as_of.to_owned()),
                prefix: prefix.map(str::to_owned),
                remove_newer,
                limit: Some(Number::from(PAGE)),
                resume: resume.clone(),
                ..RestoreRequest::default()
            };
            let page: Value = self
                .call(Op::Restore, Method::POST, "/vault/restore", Some(&body))
                .await?;
            let more = page["has_more"].as_bool() == Some(true);
            resume = page["resume"].as_str().map(str::to_owned);
            pages.push(page);
            if !more || resume.is_none() {
                return Ok(pages);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_query;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            with_query(
                "/vault/history",
                &[("path", "thoughts/My idea & é.md"), ("limit", "5")]
            ),
            "/vault/history?path=thoughts%2FMy+idea+%26+%C3%A9.md&limit=5"
        );
    }
}
