//! Who signs, and the transaction ids that follow from it.
//!
//! Fabric names a transaction `hex(SHA-256(nonce ‖ creator))`, `creator` being the signer's serialized
//! identity (MSP id and certificate). The proxy takes the nonce from the write's idempotency key,
//! `nonce = SHA-256(key)`, so the SDK computes the id of every write before it sends anything
//! ([`tx_id`]), and a retry with the same key is the same transaction, which Fabric commits at most
//! once.
//!
//! A [`Signer`] is a member's own key (ECDSA P-256, as Fabric CA issues them), held on the member's
//! machine: with one, the SDK signs its proposals, transactions and commit-status requests itself and
//! the proxy only relays them (see [`crate::gateway`]). Before signing, the SDK reads what the proxy
//! built ([`Proposal::read`] and friends) and refuses to sign anything but the call it asked for.

use std::path::{Path, PathBuf};

use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::DecodePrivateKey;
use prost::Message;
use sha2::{Digest, Sha256};

/// Fabric's `msp.SerializedIdentity`: the `creator` of a transaction.
#[derive(Clone, PartialEq, Message)]
pub struct SerializedIdentity {
    #[prost(string, tag = "1")]
    pub mspid: String,
    #[prost(bytes = "vec", tag = "2")]
    pub id_bytes: Vec<u8>,
}

/// The serialized identity of `msp_id` with `certificate` (PEM bytes, exactly as Fabric CA wrote them).
pub fn creator(msp_id: &str, certificate: &[u8]) -> Vec<u8> {
    SerializedIdentity { mspid: msp_id.to_owned(), id_bytes: certificate.to_vec() }.encode_to_vec()
}

/// The nonce of the transaction an idempotency key stands for.
pub fn nonce(idempotency_key: &str) -> [u8; 32] {
    Sha256::digest(idempotency_key.as_bytes()).into()
}

/// The transaction id of a write with `idempotency_key` signed by `creator`.
pub fn tx_id(idempotency_key: &str, creator: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(nonce(idempotency_key));
    hasher.update(creator);
    hex::encode(hasher.finalize())
}

/// A fresh idempotency key: 24 random bytes, hex.
pub fn new_idempotency_key() -> String {
    let mut bytes = [0u8; 24];
    // A fixed fallback key would make two different writes one (the second answered with the
    // first's outcome): without the operating system's generator there is no safe key.
    getrandom::fill(&mut bytes).expect("the operating system's random generator");
    hex::encode(bytes)
}

/// Why a member's key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    #[error("reading {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} holds no ECDSA P-256 private key (PKCS#8 or SEC1 PEM)")]
    Key { path: PathBuf },
    #[error("{path} holds no PEM certificate")]
    Certificate { path: PathBuf },
    #[error("signing failed: {0}")]
    Sign(String),
}

/// A member's own identity and key: its certificate is sent, its key never leaves this process.
#[derive(Clone)]
pub struct Signer {
    msp_id: String,
    certificate: Vec<u8>,
    key: SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("msp_id", &self.msp_id).finish_non_exhaustive()
    }
}

impl Signer {
    /// The identity of `msp_id` whose certificate and key are these PEM files (Fabric CA's `signcerts`
    /// certificate and `keystore` key). `key` may be a keystore folder holding exactly one file.
    ///
    /// # Errors
    /// [`SignerError`] when a file cannot be read or does not hold what it should.
    pub fn from_files(msp_id: &str, certificate: &Path, key: &Path) -> Result<Signer, SignerError> {
        let read =
            |path: &Path| std::fs::read(path).map_err(|source| SignerError::Read { path: path.to_owned(), source });
        let key_path = single_file(key).map_err(|source| SignerError::Read { path: key.to_owned(), source })?;
        let cert = read(certificate)?;
        if !String::from_utf8_lossy(&cert).contains("BEGIN CERTIFICATE") {
            return Err(SignerError::Certificate { path: certificate.to_owned() });
        }
        let pem = String::from_utf8(read(&key_path)?).map_err(|_| SignerError::Key { path: key_path.clone() })?;
        let key = SigningKey::from_pkcs8_pem(&pem)
            .ok()
            .or_else(|| p256::SecretKey::from_sec1_pem(&pem).ok().map(SigningKey::from))
            .ok_or(SignerError::Key { path: key_path })?;
        Ok(Signer { msp_id: msp_id.to_owned(), certificate: cert, key })
    }

    pub fn msp_id(&self) -> &str {
        &self.msp_id
    }

    /// The certificate, PEM.
    pub fn certificate(&self) -> &[u8] {
        &self.certificate
    }

    /// Fabric's `creator` for this identity.
    pub fn creator(&self) -> Vec<u8> {
        creator(&self.msp_id, &self.certificate)
    }

    /// The signature Fabric wants of `message`: ECDSA P-256 over its SHA-256, low-S, DER.
    ///
    /// # Errors
    /// [`SignerError::Sign`].
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        let digest = Sha256::digest(message);
        let signature: Signature = self.key.sign_prehash(&digest).map_err(|e| SignerError::Sign(e.to_string()))?;
        // Fabric refuses high-S signatures (malleability).
        let signature = signature.normalize_s().unwrap_or(signature);
        Ok(signature.to_der().as_bytes().to_vec())
    }

    /// Checks `signature` over `message` with this identity's public key (for tests).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        use p256::ecdsa::signature::Verifier;
        Signature::from_der(signature).is_ok_and(|s| self.key.verifying_key().verify(message, &s).is_ok())
    }
}

/// `path` itself, or the one file in the folder `path` (Fabric CA's keystore).
fn single_file(path: &Path) -> std::io::Result<PathBuf> {
    if !path.is_dir() {
        return Ok(path.to_owned());
    }
    let files: Vec<PathBuf> =
        std::fs::read_dir(path)?.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
    match files.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(std::io::Error::other(format!("expected exactly one key file in {}", path.display()))),
    }
}

// ---- the Fabric messages the SDK reads before it signs them (fabric-protos; only the fields used) ----

#[derive(Clone, PartialEq, Message)]
struct ProposedTransaction {
    #[prost(string, tag = "1")]
    transaction_id: String,
    #[prost(message, optional, tag = "2")]
    proposal: Option<SignedProposal>,
}

#[derive(Clone, PartialEq, Message)]
struct SignedProposal {
    #[prost(bytes = "vec", tag = "1")]
    proposal_bytes: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct ProposalMessage {
    #[prost(bytes = "vec", tag = "1")]
    header: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    payload: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct Header {
    #[prost(bytes = "vec", tag = "1")]
    channel_header: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    signature_header: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct ChannelHeader {
    #[prost(int32, tag = "1")]
    kind: i32,
    #[prost(string, tag = "4")]
    channel_id: String,
    #[prost(string, tag = "5")]
    tx_id: String,
}

#[derive(Clone, PartialEq, Message)]
struct SignatureHeader {
    #[prost(bytes = "vec", tag = "1")]
    creator: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    nonce: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct ChaincodeProposalPayload {
    #[prost(bytes = "vec", tag = "1")]
    input: Vec<u8>,
    /// Transient data: endorsers read it, the transaction Fabric records leaves it out.
    #[prost(map = "string, bytes", tag = "2")]
    transient_map: std::collections::HashMap<String, Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
struct ChaincodeInvocationSpec {
    #[prost(message, optional, tag = "1")]
    chaincode_spec: Option<ChaincodeSpec>,
}

#[derive(Clone, PartialEq, Message)]
struct ChaincodeSpec {
    #[prost(message, optional, tag = "2")]
    chaincode_id: Option<ChaincodeId>,
    #[prost(message, optional, tag = "3")]
    input: Option<ChaincodeInput>,
}

#[derive(Clone, PartialEq, Message)]
struct ChaincodeId {
    #[prost(string, tag = "2")]
    name: String,
}

#[derive(Clone, PartialEq, Message)]
struct ChaincodeInput {
    #[prost(bytes = "vec", repeated, tag = "1")]
    args: Vec<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
struct PreparedTransaction {
    #[prost(string, tag = "1")]
    transaction_id: String,
    #[prost(message, optional, tag = "2")]
    envelope: Option<Envelope>,
}

#[derive(Clone, PartialEq, Message)]
struct Envelope {
    #[prost(bytes = "vec", tag = "1")]
    payload: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct Payload {
    #[prost(message, optional, tag = "1")]
    header: Option<Header>,
}

#[derive(Clone, PartialEq, Message)]
struct SignedCommitStatusRequest {
    #[prost(bytes = "vec", tag = "1")]
    request: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct CommitStatusRequest {
    #[prost(string, tag = "1")]
    transaction_id: String,
    #[prost(string, tag = "2")]
    channel_id: String,
    #[prost(bytes = "vec", tag = "3")]
    identity: Vec<u8>,
}

/// Fabric's `ENDORSER_TRANSACTION` header type.
const ENDORSER_TRANSACTION: i32 = 3;

/// A call, as the SDK asked for it: what a message from the proxy must be before the SDK signs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected<'a> {
    pub tx_id: &'a str,
    pub channel: &'a str,
    pub chaincode: &'a str,
    pub function: &'a str,
    pub argument: &'a str,
    /// The transient data asked for (empty: none); the proposal must carry exactly this.
    pub transient: &'a std::collections::BTreeMap<String, String>,
    pub creator: &'a [u8],
    pub nonce: &'a [u8],
}

/// What a message from the proxy turned out to be, when it is not what was asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the proxy's {what} is not the call asked for: {reason}")]
pub struct Mismatch {
    pub what: &'static str,
    pub reason: String,
}

fn mismatch(what: &'static str, reason: impl Into<String>) -> Mismatch {
    Mismatch { what, reason: reason.into() }
}

fn decode<M: Message + Default>(what: &'static str, bytes: &[u8]) -> Result<M, Mismatch> {
    M::decode(bytes).map_err(|e| mismatch(what, format!("not a Fabric message: {e}")))
}

/// What the SDK signs of a proposal (`gateway.ProposedTransaction` bytes from the proxy): the
/// proposal's bytes, once checked against the call.
///
/// # Errors
/// [`Mismatch`] when it is malformed or not exactly `expected`.
pub fn proposal_to_sign(bytes: &[u8], expected: &Expected<'_>) -> Result<Vec<u8>, Mismatch> {
    const WHAT: &str = "proposal";
    let proposed: ProposedTransaction = decode(WHAT, bytes)?;
    let signed = proposed.proposal.ok_or_else(|| mismatch(WHAT, "no proposal"))?;
    let proposal: ProposalMessage = decode(WHAT, &signed.proposal_bytes)?;
    let header: Header = decode(WHAT, &proposal.header)?;
    let channel: ChannelHeader = decode(WHAT, &header.channel_header)?;
    let signature: SignatureHeader = decode(WHAT, &header.signature_header)?;
    let payload: ChaincodeProposalPayload = decode(WHAT, &proposal.payload)?;
    let invocation: ChaincodeInvocationSpec = decode(WHAT, &payload.input)?;
    let spec = invocation.chaincode_spec.unwrap_or_default();
    let args = spec.input.unwrap_or_default().args;
    let checks = [
        (channel.kind == ENDORSER_TRANSACTION, "an endorser transaction".to_owned()),
        (
            channel.tx_id == expected.tx_id && proposed.transaction_id == expected.tx_id,
            format!("tx {}", expected.tx_id),
        ),
        (channel.channel_id == expected.channel, format!("channel {}", expected.channel)),
        (spec.chaincode_id.is_some_and(|c| c.name == expected.chaincode), format!("chaincode {}", expected.chaincode)),
        (
            args == [expected.function.as_bytes().to_vec(), expected.argument.as_bytes().to_vec()],
            format!("{}({})", expected.function, expected.argument),
        ),
        (signature.creator == expected.creator, "signed by this identity".to_owned()),
        (signature.nonce == expected.nonce, "the idempotency key's nonce".to_owned()),
        (
            payload.transient_map.len() == expected.transient.len()
                && expected.transient.iter().all(|(name, value)| {
                    payload.transient_map.get(name).is_some_and(|v| v.as_slice() == value.as_bytes())
                }),
            format!("transient data {:?}", expected.transient.keys().collect::<Vec<_>>()),
        ),
    ];
    if let Some((_, wanted)) = checks.iter().find(|(ok, _)| !ok) {
        return Err(mismatch(WHAT, format!("expected {wanted}")));
    }
    Ok(signed.proposal_bytes)
}

/// What the SDK signs of an endorsed transaction (`gateway.PreparedTransaction` bytes): the
/// envelope's payload, once checked to be transaction `tx_id` of this creator on this channel.
///
/// # Errors
/// [`Mismatch`].
pub fn transaction_to_sign(bytes: &[u8], expected: &Expected<'_>) -> Result<Vec<u8>, Mismatch> {
    const WHAT: &str = "transaction";
    let prepared: PreparedTransaction = decode(WHAT, bytes)?;
    let envelope = prepared.envelope.ok_or_else(|| mismatch(WHAT, "no envelope"))?;
    let payload: Payload = decode(WHAT, &envelope.payload)?;
    let header = payload.header.ok_or_else(|| mismatch(WHAT, "no header"))?;
    let channel: ChannelHeader = decode(WHAT, &header.channel_header)?;
    let signature: SignatureHeader = decode(WHAT, &header.signature_header)?;
    if prepared.transaction_id != expected.tx_id || channel.tx_id != expected.tx_id {
        return Err(mismatch(WHAT, format!("expected tx {}", expected.tx_id)));
    }
    if channel.channel_id != expected.channel || signature.creator != expected.creator {
        return Err(mismatch(WHAT, format!("expected channel {} and this identity", expected.channel)));
    }
    Ok(envelope.payload)
}

/// What the SDK signs of a commit-status request (`gateway.SignedCommitStatusRequest` bytes): the
/// request, once checked to ask for transaction `tx_id` as this identity.
///
/// # Errors
/// [`Mismatch`].
pub fn commit_to_sign(bytes: &[u8], expected: &Expected<'_>) -> Result<Vec<u8>, Mismatch> {
    const WHAT: &str = "commit-status request";
    let signed: SignedCommitStatusRequest = decode(WHAT, bytes)?;
    let request: CommitStatusRequest = decode(WHAT, &signed.request)?;
    if request.transaction_id != expected.tx_id
        || request.channel_id != expected.channel
        || request.identity != expected.creator
    {
        return Err(mismatch(WHAT, format!("expected tx {} on {} as this identity", expected.tx_id, expected.channel)));
    }
    Ok(signed.request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tx_ids_are_sha256_of_the_keys_nonce_and_the_creator() {
        let creator = creator("Org1MSP", b"-----BEGIN CERTIFICATE-----\nx\n");
        // msp.SerializedIdentity{mspid: "Org1MSP", id_bytes: …} as protobuf.
        assert_eq!(&creator[..9], b"\x0a\x07Org1MSP");
        let mut salted = Sha256::digest(b"key-1").to_vec();
        salted.extend_from_slice(&creator);
        assert_eq!(tx_id("key-1", &creator), hex::encode(Sha256::digest(&salted)));
        assert_ne!(tx_id("key-2", &creator), tx_id("key-1", &creator));
        assert_eq!(new_idempotency_key().len(), 48);
        assert_ne!(new_idempotency_key(), new_idempotency_key());
    }

    /// A proposal as the proxy builds it, with `transient` in its payload's transient map.
    fn proposal(transient: &[(&str, &str)]) -> Vec<u8> {
        let channel_header =
            ChannelHeader { kind: ENDORSER_TRANSACTION, channel_id: "federation".into(), tx_id: "tx".into() };
        let signature_header = SignatureHeader { creator: b"me".to_vec(), nonce: b"n".to_vec() };
        let header = Header {
            channel_header: channel_header.encode_to_vec(),
            signature_header: signature_header.encode_to_vec(),
        };
        let spec = ChaincodeSpec {
            chaincode_id: Some(ChaincodeId { name: "vmledger".into() }),
            input: Some(ChaincodeInput { args: vec![b"ProposeTerms".to_vec(), b"{}".to_vec()] }),
        };
        let payload = ChaincodeProposalPayload {
            input: ChaincodeInvocationSpec { chaincode_spec: Some(spec) }.encode_to_vec(),
            transient_map: transient.iter().map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec())).collect(),
        };
        let message = ProposalMessage { header: header.encode_to_vec(), payload: payload.encode_to_vec() };
        ProposedTransaction {
            transaction_id: "tx".into(),
            proposal: Some(SignedProposal { proposal_bytes: message.encode_to_vec() }),
        }
        .encode_to_vec()
    }

    #[test]
    fn a_proposal_is_signed_only_with_exactly_the_transient_data_asked_for() {
        let asked = std::collections::BTreeMap::from([("terms".to_owned(), "{\"prices\":1}".to_owned())]);
        let none = std::collections::BTreeMap::new();
        let expected = |transient| Expected {
            tx_id: "tx",
            channel: "federation",
            chaincode: "vmledger",
            function: "ProposeTerms",
            argument: "{}",
            transient,
            creator: b"me",
            nonce: b"n",
        };
        assert!(proposal_to_sign(&proposal(&[("terms", "{\"prices\":1}")]), &expected(&asked)).is_ok());
        assert!(proposal_to_sign(&proposal(&[]), &expected(&none)).is_ok());
        for (built, transient) in [
            (proposal(&[]), &asked),
            (proposal(&[("terms", "{\"prices\":2}")]), &asked),
            (proposal(&[("terms", "{\"prices\":1}"), ("more", "x")]), &asked),
            (proposal(&[("terms", "{\"prices\":1}")]), &none),
        ] {
            let refused = proposal_to_sign(&built, &expected(transient)).expect_err("other transient data");
            assert!(refused.reason.contains("transient data"), "{refused}");
        }
    }
}
