//! Reading the settings out of the environment: each variable by name, blank as unset,
//! parsed or refused with the variable's name ([`ConfigError::Invalid`]).

use super::*;

pub(super) struct Env<'a>(pub(super) &'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    /// A set but blank variable counts as unset: SAM parameters default to "".
    pub(super) fn optional(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        Ok((self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty()))
    }

    pub(super) fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name)?.ok_or(ConfigError::Missing(name))
    }

    pub(super) fn parse_or<T>(
        &self,
        name: &'static str,
        default: T,
        valid: impl Fn(&T) -> bool,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + fmt::Display,
    {
        match self.optional(name)? {
            None => Ok(default),
            Some(raw) => match raw.parse::<T>() {
                Ok(value) if valid(&value) => Ok(value),
                Ok(value) => Err(invalid(name, format!("{value} is out of range"))),
                Err(_) => Err(invalid(name, format!("cannot parse {raw:?}"))),
            },
        }
    }

    /// A comma-separated list; empty items are ignored.
    pub(super) fn list(&self, name: &'static str) -> Result<Vec<String>, ConfigError> {
        Ok(self
            .optional(name)?
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// A request budget: its burst (at least `min_burst`) and refill a minute (at least 1),
    /// both at most 10,000,000.
    pub(super) fn budget(
        &self,
        burst: &'static str,
        per_minute: &'static str,
        default: Limit,
        min_burst: u32,
    ) -> Result<Limit, ConfigError> {
        Ok(Limit {
            burst: self.parse_or(burst, default.burst, |n| {
                (min_burst..=10_000_000).contains(n)
            })?,
            per_minute: self.parse_or(per_minute, default.per_minute, |n| {
                (1..=10_000_000).contains(n)
            })?,
        })
    }

    pub(super) fn url_or(&self, name: &'static str, default: &str) -> Result<String, ConfigError> {
        match self.optional(name)? {
            None => Ok(default.to_owned()),
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => Ok(url),
            Some(_) => Err(invalid(name, "must be an http(s) URL")),
        }
    }
}
