//! The registry API over HTTPS: a blob and a manifest pushed and pulled back, HTTP/2 chosen by
//! ALPN (and HTTP/1.1 still served), plain HTTP refused on the TLS port, and clients that do not
//! trust the CA refused at the handshake; without TLS, HTTP/1.1 as before (and h2c with prior
//! knowledge).

use bytes::Bytes;
use reqwest::{StatusCode, Version};

use crate::pki::{causes, https_url, presented, trusting, CertFiles, TestCa};
use crate::support::http::{digest_of, pseudo_random, Image, Registry};

#[tokio::test]
async fn a_blob_and_a_manifest_are_pushed_and_pulled_over_https() {
    let ca = TestCa::new("Berth test CA");
    let cert = ca.issue("berth https", 1);
    let files = CertFiles::new(&cert);
    let server = files.start_server();
    for host in ["127.0.0.1", "localhost"] {
        let registry = Registry {
            http: trusting(&ca.pem()).build().unwrap(),
            base: https_url(&server, host),
        };
        let repo = format!("tls/{}", host.replace('.', "-"));

        let blob = pseudo_random(7, 300_001);
        let digest = registry.push_blob(&repo, &blob).await;
        assert_eq!(digest, digest_of(&blob));
        let chunked = pseudo_random(8, 200_000);
        registry.push_blob_chunked(&repo, &chunked, 65_536).await;
        registry.assert_blob(&repo, &blob, "over HTTPS").await;
        registry.assert_blob(&repo, &chunked, "over HTTPS").await;

        let image = Image::new(&repo, "v1", 9, &[4_096, 100_000]);
        registry.push_image(&image).await;
        registry.assert_image(&image, "over HTTPS").await;
        assert_eq!(registry.tags(&repo).await, ["v1"]);

        let response = registry
            .http
            .get(registry.manifest_url(&repo, "v1"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(presented(&response), cert.der, "the configured certificate");
    }
}

#[tokio::test]
async fn http2_is_chosen_by_alpn_and_http1_still_served() {
    let ca = TestCa::new("Berth test CA");
    let files = CertFiles::new(&ca.issue("berth h2", 1));
    let server = files.start_server();
    let base = https_url(&server, "localhost");
    let blob = Bytes::from_static(b"served over HTTP/2");

    // A client offering h2 and http/1.1 gets h2; pushes and pulls work over it.
    let h2 = Registry {
        http: trusting(&ca.pem()).build().unwrap(),
        base: base.clone(),
    };
    let response = h2.http.get(format!("{base}/v2/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), Version::HTTP_2, "ALPN picks h2");
    let digest = h2.push_blob("tls/h2", &blob).await;
    let response = h2
        .http
        .get(h2.blob_url("tls/h2", &digest))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), Version::HTTP_2);
    assert_eq!(response.bytes().await.unwrap(), blob);

    // HTTP/2 with prior knowledge (ALPN h2 only) too.
    let prior = trusting(&ca.pem()).http2_prior_knowledge().build().unwrap();
    let response = prior
        .get(h2.blob_url("tls/h2", &digest))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), Version::HTTP_2);

    // Absolute links name the scheme and the authority the client used, with no Host header
    // in HTTP/2.
    let discover = h2
        .get_json(
            "/v2/tls/h2/_oci/ext/discover",
            "extension discovery over HTTP/2",
        )
        .await;
    let urls: Vec<&str> = discover["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "_berth")
        .filter_map(|e| e["url"].as_str())
        .collect();
    assert_eq!(urls.len(), 1, "{discover}");
    assert!(urls[0].starts_with(&format!("{base}/")), "{discover}");

    // A client that speaks only HTTP/1.1 is served HTTP/1.1.
    let h1 = trusting(&ca.pem()).http1_only().build().unwrap();
    let response = h1.get(h2.blob_url("tls/h2", &digest)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), Version::HTTP_11);
    assert_eq!(response.bytes().await.unwrap(), blob);
    let discover: serde_json::Value = h1
        .get(format!("{base}/v2/tls/h2/_oci/ext/discover"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        discover.to_string().contains(&format!("\"{base}/")),
        "links say https over HTTP/1.1 too: {discover}"
    );
}

#[tokio::test]
async fn plain_http_and_untrusting_clients_are_refused() {
    let ca = TestCa::new("Berth test CA");
    let files = CertFiles::new(&ca.issue("berth refusals", 1));
    let server = files.start_server();

    let plain = crate::support::http::client();
    let outcome = plain.get(format!("{}/v2/", server.url())).send().await;
    assert!(
        outcome.is_err(),
        "plain HTTP on the TLS port was answered: {outcome:?}"
    );

    // The public roots alone, and another CA alone, do not trust the server's certificate.
    let public_roots = reqwest::Client::builder().use_rustls_tls().build().unwrap();
    let stranger = TestCa::new("Some other CA");
    let other_ca = trusting(&stranger.pem()).build().unwrap();
    for (who, client) in [("public roots", public_roots), ("another CA", other_ca)] {
        let error = client
            .get(format!("{}/v2/", https_url(&server, "localhost")))
            .send()
            .await
            .expect_err(who);
        let chain = format!("{} / {error:?}", causes(&error));
        assert!(
            chain.contains("UnknownIssuer"),
            "{who}: the handshake fails on the certificate: {chain}"
        );
    }

    // A certificate for another name is refused too (the server's names only are valid).
    let wrong_name = trusting(&ca.pem())
        .resolve("registry.invalid", ([127, 0, 0, 1], server.port).into())
        .build()
        .unwrap();
    let error = wrong_name
        .get(format!("https://registry.invalid:{}/v2/", server.port))
        .send()
        .await
        .expect_err("a name the certificate does not hold");
    let chain = format!("{} / {error:?}", causes(&error));
    assert!(chain.contains("not valid for name"), "{chain}");

    // The server is unharmed by all of that.
    let trusted = trusting(&ca.pem()).build().unwrap();
    let response = trusted
        .get(format!("{}/v2/", https_url(&server, "127.0.0.1")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn without_tls_http1_is_served_as_before_and_h2c_with_prior_knowledge() {
    let server = crate::support::TestServer::start();
    let http1 = crate::support::http::client()
        .get(format!("{}/v2/", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(http1.status(), StatusCode::OK);
    assert_eq!(http1.version(), Version::HTTP_11);
    let h2c = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap()
        .get(format!("{}/v2/", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(h2c.status(), StatusCode::OK);
    assert_eq!(h2c.version(), Version::HTTP_2);
}
