//! End-to-end tests of `berth serve` over TLS: the real binary started with `--tls-cert` and
//! `--tls-key` on a certificate issued by a CA each test makes with rcgen, driven by reqwest
//! (rustls, trusting that CA) and by skopeo. They cover pushes and pulls over HTTPS, HTTP/2 by
//! ALPN, refusing plain HTTP and untrusting clients, reloading the certificate files without a
//! restart (and keeping the old pair when the new one is broken), and start-up errors.

#[path = "../support/mod.rs"]
mod support;

// The OCI layout skopeo copies from, shared with the `clients` target.
#[path = "../clients/content.rs"]
#[allow(dead_code)]
mod content;
#[path = "../clients/layout.rs"]
#[allow(dead_code)]
mod layout;

mod gc;
mod https;
mod pki;
mod reload;
mod shutdown;
mod skopeo;
mod startup;
