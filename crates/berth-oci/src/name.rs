//! Repository names: `component(/component)*` as the distribution spec's grammar defines them.

use std::fmt;
use std::str::FromStr;

use crate::OciError;

/// Longest repository name accepted; clients limit `host/name` to 255 characters.
pub const MAX_NAME_LEN: usize = 255;

/// A validated repository name such as `library/alpine`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoName(String);

impl RepoName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RepoName {
    type Err = OciError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match name_problem(s) {
            None => Ok(RepoName(s.to_owned())),
            Some(problem) => Err(OciError::NameInvalid(s.to_owned(), problem)),
        }
    }
}

/// What the grammar allows, appended to every problem so that the fix is plain.
const GRAMMAR: &str = "names are path components of lower-case letters and digits, separated \
     within a component by '.', '_', '__' or dashes, and joined by '/'";

/// Why `name` does not match `component(/component)*`, or none when it does.
fn name_problem(name: &str) -> Option<String> {
    let problem = if name.is_empty() {
        "the name is empty".to_owned()
    } else if name.len() > MAX_NAME_LEN {
        format!(
            "the name is {} bytes long; at most {MAX_NAME_LEN} are allowed",
            name.len()
        )
    } else {
        name.split('/').find_map(component_problem)?
    };
    Some(format!("{problem}; {GRAMMAR}"))
}

/// Why one component does not match `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn component_problem(component: &str) -> Option<String> {
    if component.is_empty() {
        return Some("a path component is empty (a leading, trailing or doubled '/')".into());
    }
    if component.bytes().any(|b| b.is_ascii_uppercase()) {
        return Some(format!("{component:?} contains upper-case letters"));
    }
    if let Some(c) = component
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(*c)))
    {
        return Some(format!("{component:?} contains the character {c:?}"));
    }
    if !is_valid_component(component) {
        return Some(format!(
            "{component:?} must start and end with a letter or digit and use one separator at a time"
        ));
    }
    None
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn is_valid_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let is_alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut i = 0;
    let mut expect_alnum = true;
    while i < bytes.len() {
        if is_alnum(bytes[i]) {
            expect_alnum = false;
            i += 1;
            continue;
        }
        if expect_alnum {
            return false;
        }
        let separator_len = match bytes[i] {
            b'.' => 1,
            b'_' if bytes.get(i + 1) == Some(&b'_') => 2,
            b'_' => 1,
            b'-' => bytes[i..].iter().take_while(|&&b| b == b'-').count(),
            _ => return false,
        };
        i += separator_len;
        expect_alnum = true;
    }
    !expect_alnum
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RepoName({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_spec_names() {
        for good in ["a", "library/alpine", "a.b_c__d---e/f0", "x/y/z/w", "0/1"] {
            assert!(good.parse::<RepoName>().is_ok(), "{good}");
        }
    }

    #[test]
    fn rejects_invalid_names() {
        let too_long = "a".repeat(MAX_NAME_LEN + 1);
        for bad in [
            "",
            "/",
            "a/",
            "/a",
            "a//b",
            "A",
            "a..b",
            "a___b",
            "-a",
            "a-",
            ".a",
            "a/../b",
            "..",
            "a/.",
            "a b",
            "a%2fb",
            "ä",
            too_long.as_str(),
        ] {
            assert!(bad.parse::<RepoName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let problem = |name: &str| match name.parse::<RepoName>() {
            Err(OciError::NameInvalid(_, problem)) => problem,
            other => panic!("{name}: {other:?}"),
        };
        assert!(problem("Demo/UPPER").contains("\"Demo\" contains upper-case letters"));
        assert!(problem("a//b").contains("empty"));
        assert!(problem("a b").contains("' '"));
        assert!(problem("a..b").contains("one separator at a time"));
        assert!(problem(&"a".repeat(300)).contains("at most 255"));
        assert!(problem("-a").contains("lower-case letters and digits"));
    }

    proptest! {
        #[test]
        fn generated_valid_names_parse(name in "[a-z0-9]{1,5}((\\.|_|__|-{1,3})[a-z0-9]{1,5}){0,3}(/[a-z0-9]{1,5}((\\.|_|__|-{1,3})[a-z0-9]{1,5}){0,2}){0,3}") {
            prop_assert!(name.parse::<RepoName>().is_ok());
        }

        #[test]
        fn names_never_contain_traversal(s in "[a-z0-9./_-]{0,40}") {
            if let Ok(name) = s.parse::<RepoName>() {
                prop_assert!(name.as_str().split('/').all(|c| c != ".." && c != "." && !c.is_empty()));
            }
        }
    }
}
