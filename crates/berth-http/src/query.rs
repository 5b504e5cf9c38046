//! Query strings, decoded once; repeated keys (`?tag=a&tag=b`) are kept.

use crate::error::RequestError;

#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(query: Option<&str>) -> Query {
        let pairs = query.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect());
        Query(pairs.unwrap_or_default())
    }

    /// The same parameters without those named in `names`.
    pub fn without(&self, names: &[&str]) -> Query {
        Query(
            self.0
                .iter()
                .filter(|(k, _)| !names.contains(&k.as_str()))
                .cloned()
                .collect(),
        )
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Refuses a parameter not in `known`: an administration request with a typo in a policy
    /// name must not run with the configured policy instead.
    pub fn only(&self, known: &'static [&'static str]) -> Result<(), RequestError> {
        match self.0.iter().find(|(k, _)| !known.contains(&k.as_str())) {
            None => Ok(()),
            Some((name, _)) => Err(RequestError::QueryUnknown {
                name: name.clone(),
                known: known.join(", "),
            }),
        }
    }

    /// A non-negative integer parameter (`n`, `depth`), when present.
    pub fn count(&self, name: &'static str) -> Result<Option<u32>, RequestError> {
        self.get(name)
            .map(|v| {
                v.parse().map_err(|_| RequestError::QueryInvalid {
                    name,
                    reason: format!("{v:?} is not a whole number from 0 to {}", u32::MAX),
                })
            })
            .transpose()
    }

    /// A value that must parse as `T` when present.
    pub fn parsed<T: std::str::FromStr>(
        &self,
        name: &'static str,
    ) -> Result<Option<T>, RequestError>
    where
        T::Err: std::fmt::Display,
    {
        self.get(name)
            .map(|v| {
                v.parse().map_err(|e: T::Err| RequestError::QueryInvalid {
                    name,
                    reason: e.to_string(),
                })
            })
            .transpose()
    }
}
