//! TLS for kalab's own peers: the embedded server's certificate (made at run time), the rustls
//! configurations of the server and of the client, the key log, and how the client learns how
//! each of its handshakes went.
//!
//! The crypto provider is rustls' `ring`: it builds with a C compiler alone, where `aws-lc-rs`
//! wants cmake (and, on some targets, clang) on the build machine.
//!
//! The server reads each connection's handshake from rustls (`handshake_kind()`), exactly. The
//! client is reqwest, whose connection type is sealed; its handshakes are observed from the
//! inside instead: the connector layer runs every dial inside a task-local [`HandshakeProbe`],
//! and the rustls callbacks a handshake makes write into it. Those callbacks run synchronously
//! while the dial's future is polled, so each probe sees its own handshake only:
//! - the certificate verifier runs on full handshakes only (a resumed one sends no certificate),
//! - the key log names the version (TLS 1.3 secrets, or a TLS 1.2 `CLIENT_RANDOM`),
//! - the session store is asked which key-exchange group to offer first and told which one the
//!   server agreed to (TLS 1.3): they differ after a HelloRetryRequest.

use std::fmt;
use std::fs::File;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::Context as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientSessionMemoryCache, ClientSessionStore, Resumption};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, NamedGroup, SignatureScheme};

use crate::model::{HandshakeKind, TlsHandshake, TlsVersion};
use crate::scenario::ClientSettings;

/// The environment variable that names a key log file, as browsers and curl read it.
pub const KEYLOG_ENV: &str = "SSLKEYLOGFILE";

/// The crypto provider every TLS peer of kalab uses.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Makes `ring` the process's default provider: reqwest asks for one even when it builds a
/// cleartext client. Idempotent.
pub(crate) fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn rustls_version(version: TlsVersion) -> &'static rustls::SupportedProtocolVersion {
    match version {
        TlsVersion::Tls12 => &rustls::version::TLS12,
        TlsVersion::Tls13 => &rustls::version::TLS13,
    }
}

fn model_version(version: rustls::ProtocolVersion) -> Option<TlsVersion> {
    match version {
        rustls::ProtocolVersion::TLSv1_2 => Some(TlsVersion::Tls12),
        rustls::ProtocolVersion::TLSv1_3 => Some(TlsVersion::Tls13),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Key log

/// Writes session secrets in the NSS key log format (`LABEL CLIENT_RANDOM SECRET`, hex), which
/// Wireshark and tshark read to decrypt a capture.
pub struct KeyLogWriter {
    path: PathBuf,
    file: Mutex<File>,
}

impl fmt::Debug for KeyLogWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyLogWriter")
            .field("path", &self.path)
            .finish()
    }
}

impl KeyLogWriter {
    fn open(path: &Path) -> std::io::Result<KeyLogWriter> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(KeyLogWriter {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    fn write(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let line = format!("{label} {} {}\n", hex(client_random), hex(secret));
        let mut file = self.file.lock().expect("key log lock");
        // A key log that cannot be written must not break the run; the capture stays encrypted.
        let _ = file.write_all(line.as_bytes());
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

static KEY_LOG: OnceLock<Option<Arc<KeyLogWriter>>> = OnceLock::new();

/// Sends the session secrets of every TLS connection kalab's client and embedded server make
/// in this process to `path` (`--tls-keylog`); `None`: to the file `SSLKEYLOGFILE` names, if
/// set. Call it once, before the first run; later calls change nothing.
pub fn configure_key_log(path: Option<&Path>) -> anyhow::Result<()> {
    let path = path
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os(KEYLOG_ENV).map(PathBuf::from));
    let writer = match path {
        Some(path) => Some(Arc::new(KeyLogWriter::open(&path).with_context(|| {
            format!(
                "cannot open the TLS key log {} for appending; choose a writable path",
                path.display()
            )
        })?)),
        None => None,
    };
    let _ = KEY_LOG.set(writer);
    Ok(())
}

/// The key log of this process, if one was asked for (`SSLKEYLOGFILE` is read on first use
/// when [`configure_key_log`] was never called).
fn key_log_writer() -> Option<Arc<KeyLogWriter>> {
    KEY_LOG
        .get_or_init(|| {
            let path = std::env::var_os(KEYLOG_ENV)?;
            KeyLogWriter::open(Path::new(&path)).ok().map(Arc::new)
        })
        .clone()
}

/// The server's key log: the file, when there is one.
#[derive(Debug)]
struct ServerKeyLog(Arc<KeyLogWriter>);

impl rustls::KeyLog for ServerKeyLog {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        self.0.write(label, client_random, secret);
    }
}

// ---------------------------------------------------------------------------------------------
// The embedded server's certificate

/// The embedded server's TLS identity, made at run time: a CA, and a leaf certificate signed by
/// it for `127.0.0.1`, `::1`, `localhost` and the address the server binds. The CA certificate
/// is written to a temporary file (removed when this is dropped) so clients can trust it.
pub struct ServerIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    ca_file: tempfile::NamedTempFile,
}

impl ServerIdentity {
    /// Makes a fresh CA and leaf certificate.
    pub fn generate(address: IpAddr) -> anyhow::Result<ServerIdentity> {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
            KeyPair, KeyUsagePurpose,
        };
        let ca_key = KeyPair::generate().context("cannot make the CA key")?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "kalab run CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let mut names = vec![
            "127.0.0.1".to_string(),
            "::1".to_string(),
            "localhost".to_string(),
        ];
        let bound = address.to_canonical().to_string();
        if !address.is_unspecified() && !names.contains(&bound) {
            names.push(bound);
        }
        let leaf_key = KeyPair::generate().context("cannot make the server key")?;
        let mut leaf_params = CertificateParams::new(names)?;
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "kalab embedded server");
        leaf_params.use_authority_key_identifier_extension = true;
        leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer)?;

        let mut ca_file = tempfile::Builder::new()
            .prefix("kalab-ca-")
            .suffix(".pem")
            .tempfile()
            .context("cannot write the embedded server's CA certificate to a temporary file")?;
        ca_file.write_all(ca_cert.pem().as_bytes())?;
        ca_file.flush()?;
        Ok(ServerIdentity {
            chain: vec![leaf_cert.der().clone(), ca_cert.der().clone()],
            key: PrivateKeyDer::try_from(leaf_key.serialize_der())
                .map_err(|err| anyhow::anyhow!("cannot read back the server key: {err}"))?,
            ca_file,
        })
    }

    /// The PEM file of the CA that signed the server's certificate.
    pub fn ca_file(&self) -> &Path {
        self.ca_file.path()
    }

    /// The rustls server configuration: ALPN `h2` and `http/1.1`; with `resumption`, a session
    /// cache (TLS 1.2 session ids) and tickets (TLS 1.2 tickets, TLS 1.3 pre-shared keys);
    /// without, neither, so every connection costs a full handshake.
    pub(crate) fn server_config(
        &self,
        resumption: bool,
    ) -> anyhow::Result<Arc<rustls::ServerConfig>> {
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .context("the generated certificate does not fit the generated key")?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        if resumption {
            config.session_storage = rustls::server::ServerSessionMemoryCache::new(4096);
            config.ticketer = rustls::crypto::ring::Ticketer::new()?;
        } else {
            config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
            config.send_tls13_tickets = 0;
        }
        if let Some(writer) = key_log_writer() {
            config.key_log = Arc::new(ServerKeyLog(writer));
        }
        Ok(Arc::new(config))
    }
}

/// How a server-side TLS connection's handshake went, as rustls reports it.
pub(crate) fn server_handshake(conn: &rustls::ServerConnection) -> Option<TlsHandshake> {
    let kind = match conn.handshake_kind()? {
        rustls::HandshakeKind::Full => HandshakeKind::Full,
        rustls::HandshakeKind::FullWithHelloRetryRequest => HandshakeKind::FullHrr,
        rustls::HandshakeKind::Resumed => HandshakeKind::Resumed,
    };
    Some(TlsHandshake {
        kind,
        version: conn.protocol_version().and_then(model_version),
        alpn: conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
    })
}

/// How long a client may take to complete its TLS handshake with the embedded server.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The server's side of one connection's handshake: the TLS stream, and how the handshake went.
pub(crate) async fn accept<IO>(
    acceptor: &tokio_rustls::TlsAcceptor,
    io: IO,
) -> std::io::Result<(tokio_rustls::server::TlsStream<IO>, Option<TlsHandshake>)>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(io))
        .await
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the TLS handshake did not complete within 10 s",
            )
        })?
        .map_err(|err| std::io::Error::new(err.kind(), format!("TLS handshake failed: {err}")))?;
    let handshake = server_handshake(stream.get_ref().1);
    Ok((stream, handshake))
}

/// How long a closed TLS connection waits for the client's last bytes and its FIN.
const LINGER: std::time::Duration = std::time::Duration::from_secs(1);

/// After the server's close_notify and FIN: reads (and discards) what the client still sends,
/// its own close_notify, until its FIN, for at most [`LINGER`], then closes the socket. What
/// nginx calls a lingering close: the client's last bytes find an open socket, not a RST.
pub(crate) async fn linger(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncReadExt as _;
    let mut sink = [0u8; 1024];
    let drain = async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

// ---------------------------------------------------------------------------------------------
// The client: configuration and per-dial probes

/// What the rustls callbacks told about one dial's handshake.
#[derive(Debug, Default)]
pub(crate) struct Probe {
    /// The server's certificate was verified: a full handshake.
    certificate_checked: bool,
    /// The version the key log's labels name.
    version: Option<TlsVersion>,
    /// The key-exchange group the first ClientHello offered (TLS 1.3).
    offered_group: Option<NamedGroup>,
    /// The group the handshake ended with (TLS 1.3).
    agreed_group: Option<NamedGroup>,
}

tokio::task_local! {
    static PROBE: Arc<Mutex<Probe>>;
}

fn note(change: impl FnOnce(&mut Probe)) {
    let _ = PROBE.try_with(|probe| change(&mut probe.lock().expect("TLS probe lock")));
}

/// One dial's handshake probe: run the dial with [`HandshakeProbe::run`], then read
/// [`HandshakeProbe::handshake`].
#[derive(Debug, Clone, Default)]
pub(crate) struct HandshakeProbe(Arc<Mutex<Probe>>);

impl HandshakeProbe {
    /// Runs `dial` (its creation and every poll) with this probe in scope.
    pub(crate) fn run<F: std::future::Future>(
        &self,
        dial: impl FnOnce() -> F,
    ) -> tokio::task::futures::TaskLocalFuture<Arc<Mutex<Probe>>, F> {
        let future = PROBE.sync_scope(Arc::clone(&self.0), dial);
        PROBE.scope(Arc::clone(&self.0), future)
    }

    /// The handshake the dial made, if it made one (`None`: a cleartext connection).
    /// `negotiated_h2`: whether ALPN settled on `h2` (what the connection itself reports).
    pub(crate) fn handshake(&self, negotiated_h2: bool) -> Option<TlsHandshake> {
        let probe = self.0.lock().expect("TLS probe lock");
        let version = probe.version?;
        let hrr = matches!(
            (probe.offered_group, probe.agreed_group),
            (Some(offered), Some(agreed)) if offered != agreed
        );
        let kind = match (probe.certificate_checked, hrr) {
            (false, _) => HandshakeKind::Resumed,
            (true, false) => HandshakeKind::Full,
            (true, true) => HandshakeKind::FullHrr,
        };
        Some(TlsHandshake {
            kind,
            version: Some(version),
            alpn: negotiated_h2.then(|| "h2".to_string()),
        })
    }
}

/// Verifies with `inner` and notes that a certificate was checked (full handshakes only).
#[derive(Debug)]
struct NotingVerifier {
    inner: Arc<dyn ServerCertVerifier>,
}

impl ServerCertVerifier for NotingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        note(|p| p.certificate_checked = true);
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.inner.requires_raw_public_keys()
    }
}

/// `insecure = true`: any certificate is accepted (the handshake's signature is still checked
/// against the key the certificate carries).
#[derive(Debug)]
struct AcceptAnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The client's session store, noting the key-exchange groups offered and agreed.
#[derive(Debug)]
struct NotingStore {
    /// `None`: resumption off (nothing is remembered, as rustls' own disabled store).
    inner: Option<Arc<ClientSessionMemoryCache>>,
    /// The groups the client offers, in order of preference.
    groups: Vec<NamedGroup>,
}

impl ClientSessionStore for NotingStore {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        note(|p| p.agreed_group = Some(group));
        if let Some(inner) = &self.inner {
            inner.set_kx_hint(server_name, group);
        }
    }

    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        let hint = self.inner.as_ref().and_then(|s| s.kx_hint(server_name));
        // rustls offers the hinted group if it has it, else its first group.
        let offered = hint
            .filter(|g| self.groups.contains(g))
            .or_else(|| self.groups.first().copied());
        note(|p| p.offered_group = offered);
        hint
    }

    fn set_tls12_session(
        &self,
        server_name: ServerName<'static>,
        value: rustls::client::Tls12ClientSessionValue,
    ) {
        if let Some(inner) = &self.inner {
            inner.set_tls12_session(server_name, value);
        }
    }

    fn tls12_session(
        &self,
        server_name: &ServerName<'_>,
    ) -> Option<rustls::client::Tls12ClientSessionValue> {
        self.inner.as_ref()?.tls12_session(server_name)
    }

    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        if let Some(inner) = &self.inner {
            inner.remove_tls12_session(server_name);
        }
    }

    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: rustls::client::Tls13ClientSessionValue,
    ) {
        if let Some(inner) = &self.inner {
            inner.insert_tls13_ticket(server_name, value);
        }
    }

    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<rustls::client::Tls13ClientSessionValue> {
        self.inner.as_ref()?.take_tls13_ticket(server_name)
    }
}

/// The client's key log: notes the version the secrets belong to, and writes them to the key
/// log file when there is one.
#[derive(Debug)]
struct ClientKeyLog {
    file: Option<Arc<KeyLogWriter>>,
}

impl rustls::KeyLog for ClientKeyLog {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let version = if label == "CLIENT_RANDOM" {
            TlsVersion::Tls12
        } else {
            TlsVersion::Tls13
        };
        note(|p| p.version = Some(version));
        if let Some(file) = &self.file {
            file.write(label, client_random, secret);
        }
    }

    fn will_log(&self, _label: &str) -> bool {
        true
    }
}

/// The rustls client configuration a scenario's `[client]` table describes. `embedded_cas`:
/// the CAs of kalab's embedded servers, always trusted when the target is those servers. ALPN is set
/// by the caller (it follows `protocol`).
pub(crate) fn client_config(
    settings: &ClientSettings,
    embedded_cas: &[PathBuf],
) -> anyhow::Result<rustls::ClientConfig> {
    let provider = provider();
    let mut versions = Vec::new();
    for version in &settings.tls_versions {
        let version = rustls_version(*version);
        if !versions.contains(&version) {
            versions.push(version);
        }
    }
    let verifier: Arc<dyn ServerCertVerifier> = if settings.insecure {
        Arc::new(AcceptAnyCertificate {
            provider: Arc::clone(&provider),
        })
    } else {
        let mut roots = rustls::RootCertStore::empty();
        for file in embedded_cas
            .iter()
            .map(PathBuf::as_path)
            .chain(settings.ca_file.as_deref())
        {
            for cert in read_certificates(file)? {
                roots.add(cert).with_context(|| {
                    format!("{}: a certificate rustls cannot use", file.display())
                })?;
            }
        }
        if roots.is_empty() {
            Arc::new(
                rustls_platform_verifier::Verifier::new(Arc::clone(&provider)).context(
                    "cannot load the system's trusted certificates; set [client] ca_file",
                )?,
            )
        } else {
            rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                Arc::clone(&provider),
            )
            .build()
            .context("cannot build the certificate verifier")?
        }
    };
    let groups = provider.kx_groups.iter().map(|g| g.name()).collect();
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .context("no usable TLS version in [client] tls_versions")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NotingVerifier { inner: verifier }))
        .with_no_client_auth();
    let inner = settings.tls_resumption.then(|| {
        Arc::new(ClientSessionMemoryCache::new(
            settings.tls_session_cache.max(1) as usize,
        ))
    });
    config.resumption = Resumption::store(Arc::new(NotingStore { inner, groups }));
    config.key_log = Arc::new(ClientKeyLog {
        file: key_log_writer(),
    });
    Ok(config)
}

/// The certificates of a PEM file.
fn read_certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read the CA file {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{}: not a PEM file of certificates", path.display()))?;
    if certs.is_empty() {
        anyhow::bail!(
            "{}: no certificate in it (expected PEM `BEGIN CERTIFICATE` blocks)",
            path.display()
        );
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_without_key_log_lines_saw_no_handshake() {
        let probe = HandshakeProbe::default();
        assert_eq!(probe.handshake(false), None);
    }

    #[test]
    fn a_probe_reads_full_resumed_and_retried_handshakes() {
        let probe = HandshakeProbe::default();
        {
            let mut p = probe.0.lock().unwrap();
            p.version = Some(TlsVersion::Tls13);
        }
        assert_eq!(probe.handshake(true).unwrap().kind, HandshakeKind::Resumed);
        assert_eq!(probe.handshake(true).unwrap().alpn.as_deref(), Some("h2"));
        {
            let mut p = probe.0.lock().unwrap();
            p.certificate_checked = true;
            p.offered_group = Some(NamedGroup::X25519);
            p.agreed_group = Some(NamedGroup::X25519);
        }
        assert_eq!(probe.handshake(false).unwrap().kind, HandshakeKind::Full);
        probe.0.lock().unwrap().agreed_group = Some(NamedGroup::secp256r1);
        assert_eq!(probe.handshake(false).unwrap().kind, HandshakeKind::FullHrr);
    }

    #[test]
    fn the_generated_ca_file_holds_the_ca_certificate() {
        let identity = ServerIdentity::generate("127.0.0.1".parse().unwrap()).unwrap();
        let certs = read_certificates(identity.ca_file()).unwrap();
        assert_eq!(certs.len(), 1);
        assert_eq!(certs[0], identity.chain[1]);
        assert!(identity.server_config(true).is_ok());
    }
}
