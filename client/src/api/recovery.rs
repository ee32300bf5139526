//! The recovery endpoints: a note's versions, the deleted notes, restoring versions, and
//! rewinding the vault or a folder to a moment. Requests are the protocol's bodies; answers
//! come back as the server's JSON, which `steel-sync --json` prints as is and the human
//! output reads field by field. On an encrypted vault the calls go by path key and the
//! answers come back opened, with plaintext paths (`sealed_recovery`).

use reqwest::{Method, Url};
use serde_json::{Number, Value};
use steel_protocol::wire::{RestoreEntry, RestoreRequest};

use super::{Api, sealed_recovery};
use crate::error::{Result, SyncError};
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
    /// On an encrypted vault, by the path's path key, each version's sealed fields opened.
    pub async fn history(&self, path: &str) -> Result<Vec<Value>> {
        let limit = PAGE.to_string();
        let (field, value) = match &self.crypt {
            Some(c) => ("path_key", sealed_recovery::key_of(c, path)?.to_hex()),
            None => ("path", path.to_owned()),
        };
        let mut versions = self
            .all_pages(Op::History, "versions", |cursor| {
                let mut q = vec![(field, value.as_str()), ("limit", limit.as_str())];
                q.extend(cursor.map(|c| ("cursor", c)));
                with_query("/vault/history", &q)
            })
            .await?;
        if let Some(c) = &self.crypt {
            Self::sealed_history(c, path, &mut versions)?;
        }
        Ok(versions)
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
        .and_then(|mut files| {
            if let Some(c) = &self.crypt {
                Self::sealed_deleted(c, &mut files)?;
            }
            Ok(files)
        })
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
        if let Some(c) = &self.crypt {
            return self.sealed_restore(c, path, version, base_version).await;
        }
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
        self.rewind_in_pages(as_of, prefix, remove_newer, PAGE)
            .await
    }

    /// [`Self::rewind`] `limit` notes a page (1..=5000). A page whose answer is lost is sent
    /// again as it was, with the last `resume` received (the transport's retry): notes the
    /// lost page rewound carry newer versions and are not touched again.
    pub async fn rewind_in_pages(
        &self,
        as_of: &str,
        prefix: Option<&str>,
        remove_newer: bool,
        limit: u32,
    ) -> Result<Vec<Value>> {
        if self.crypt.is_some() && prefix.is_some() {
            return Err(SyncError::Other(
                "an encrypted vault is rewound whole: the server knows no folders of it".into(),
            ));
        }
        let mut pages = Vec::new();
        let mut resume: Option<String> = None;
        loop {
            let body = RestoreRequest {
                as_of: Some(as_of.to_owned()),
                prefix: prefix.map(str::to_owned),
                remove_newer,
                limit: Some(Number::from(limit)),
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
