//! JWT signatures on `ring`, as a `jsonwebtoken` crypto provider.
//!
//! `jsonwebtoken` 10+ leaves the choice of crypto to the application: its built-in providers
//! are aws-lc-rs (needs cmake, and a second TLS-grade crypto library next to the ring that
//! rustls already uses here) or the RustCrypto stack (RSA, P-256, P-384, Ed25519 and HMAC
//! crates, about a dozen more dependencies). ring already does all of it for rustls, so this
//! module maps the JWS algorithms onto it: about a page of code and no new crypto in the tree.
//!
//! HMAC (`HS*`) is deliberately not provided. An OIDC resource server only ever verifies with
//! public keys, and refusing symmetric algorithms outright closes the classic "public key used
//! as an HMAC secret" confusion, whatever a JWKS or a token header says.

use std::sync::Once;

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error, ErrorKind, Result};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature as rs;

/// The provider; [`install`] makes it the process default.
static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: rsa_components_from_private_key,
        rsa_pub_components_from_public_key: rsa_components_from_public_key,
        ec_pub_components_from_private_key: ec_components_from_private_key,
        ed_pub_components_from_private_key: |_, _| Err(ErrorKind::InvalidAlgorithm.into()),
        compute_digest,
    },
};

/// Makes ring the crypto of `jsonwebtoken` for this process. Idempotent and cheap, so every
/// entry point that verifies or signs calls it rather than relying on `main` having done so
/// (tests and benches have no `main`).
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err only when another provider was installed first, which nothing here does.
        let _ = PROVIDER.install_default();
    });
}

/// ring's RSA parameters for an RS*/PS* algorithm; `None` for the others.
fn rsa_params(alg: Algorithm) -> Option<&'static rs::RsaParameters> {
    Some(match alg {
        Algorithm::RS256 => &rs::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &rs::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &rs::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &rs::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &rs::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &rs::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

/// ring's verification parameters for a JWS algorithm. `None`: not offered (HMAC, see the
/// module doc).
fn verification(alg: Algorithm) -> Option<&'static dyn rs::VerificationAlgorithm> {
    if let Some(rsa) = rsa_params(alg) {
        return Some(rsa);
    }
    Some(match alg {
        Algorithm::ES256 => &rs::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &rs::ECDSA_P384_SHA384_FIXED,
        Algorithm::EdDSA => &rs::ED25519,
        // HMAC, and whatever later versions of the crate add: not offered.
        _ => return None,
    })
}

/// A public key bound to one algorithm.
struct RingVerifier {
    alg: Algorithm,
    params: &'static dyn rs::VerificationAlgorithm,
    key: PublicKey,
}

enum PublicKey {
    /// DER (RSA PKCS#1), an uncompressed EC point, or raw Ed25519 bytes: what ring's
    /// `UnparsedPublicKey` takes for the algorithm.
    Encoded(Vec<u8>),
    /// RSA modulus and exponent, big-endian, as a JWK carries them.
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

impl Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> signature::Result<()> {
        let outcome = match &self.key {
            PublicKey::Encoded(bytes) => {
                rs::UnparsedPublicKey::new(self.params, bytes).verify(msg, signature)
            }
            PublicKey::Rsa { n, e } => {
                let Some(params) = rsa_params(self.alg) else {
                    return Err(signature::Error::new());
                };
                rs::RsaPublicKeyComponents { n, e }.verify(params, msg, signature)
            }
        };
        outcome.map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

fn new_verifier(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    let params = verification(*alg).ok_or(ErrorKind::InvalidAlgorithm)?;
    // A key of one family never verifies another family's algorithm.
    if key.family() != alg.family() {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let key = match key.kind() {
        DecodingKeyKind::SecretOrDer(bytes) => PublicKey::Encoded(bytes.clone()),
        DecodingKeyKind::RsaModulusExponent { n, e } => PublicKey::Rsa {
            n: n.clone(),
            e: e.clone(),
        },
    };
    Ok(Box::new(RingVerifier {
        alg: *alg,
        params,
        key,
    }))
}

/// A private key bound to one algorithm (tests and benches sign tokens with it).
struct RingSigner {
    alg: Algorithm,
    key: PrivateKey,
}

enum PrivateKey {
    Rsa(rs::RsaKeyPair, &'static dyn rs::RsaEncoding),
    Ecdsa(rs::EcdsaKeyPair),
}

impl Signer<Vec<u8>> for RingSigner {
    fn try_sign(&self, msg: &[u8]) -> signature::Result<Vec<u8>> {
        let rng = SystemRandom::new();
        match &self.key {
            PrivateKey::Rsa(pair, encoding) => {
                let mut out = vec![0; pair.public().modulus_len()];
                pair.sign(*encoding, &rng, msg, &mut out)
                    .map_err(|_| signature::Error::new())?;
                Ok(out)
            }
            PrivateKey::Ecdsa(pair) => pair
                .sign(&rng, msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| signature::Error::new()),
        }
    }
}

impl JwtSigner for RingSigner {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

/// An RSA private key from PKCS#1 or PKCS#8 DER.
fn rsa_pair(der: &[u8]) -> Result<rs::RsaKeyPair> {
    rs::RsaKeyPair::from_der(der)
        .or_else(|_| rs::RsaKeyPair::from_pkcs8(der))
        .map_err(|e| ErrorKind::InvalidRsaKey(e.to_string()).into())
}

fn ecdsa_pair(alg: Algorithm, pkcs8: &[u8]) -> Result<rs::EcdsaKeyPair> {
    let params = match alg {
        Algorithm::ES256 => &rs::ECDSA_P256_SHA256_FIXED_SIGNING,
        Algorithm::ES384 => &rs::ECDSA_P384_SHA384_FIXED_SIGNING,
        _ => return Err(ErrorKind::InvalidAlgorithm.into()),
    };
    rs::EcdsaKeyPair::from_pkcs8(params, pkcs8, &SystemRandom::new())
        .map_err(|_| ErrorKind::InvalidEcdsaKey.into())
}

fn new_signer(alg: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    if key.family() != alg.family() {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let der = key.as_bytes();
    let rsa = |encoding: &'static dyn rs::RsaEncoding| -> Result<PrivateKey> {
        Ok(PrivateKey::Rsa(rsa_pair(der)?, encoding))
    };
    let key = match alg {
        Algorithm::RS256 => rsa(&rs::RSA_PKCS1_SHA256)?,
        Algorithm::RS384 => rsa(&rs::RSA_PKCS1_SHA384)?,
        Algorithm::RS512 => rsa(&rs::RSA_PKCS1_SHA512)?,
        Algorithm::PS256 => rsa(&rs::RSA_PSS_SHA256)?,
        Algorithm::PS384 => rsa(&rs::RSA_PSS_SHA384)?,
        Algorithm::PS512 => rsa(&rs::RSA_PSS_SHA512)?,
        Algorithm::ES256 | Algorithm::ES384 => PrivateKey::Ecdsa(ecdsa_pair(*alg, der)?),
        _ => return Err(ErrorKind::InvalidAlgorithm.into()),
    };
    Ok(Box::new(RingSigner { alg: *alg, key }))
}

fn rsa_components(public: &ring::rsa::PublicKey) -> (Vec<u8>, Vec<u8>) {
    let components: ring::rsa::PublicKeyComponents<Vec<u8>> = public.into();
    (components.n, components.e)
}

fn rsa_components_from_private_key(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    Ok(rsa_components(rsa_pair(der)?.public()))
}

fn rsa_components_from_public_key(_der: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    // ring parses RSA public keys only to verify with them; nothing here needs the parts.
    Err(ErrorKind::InvalidKeyFormat.into())
}

fn ec_components_from_private_key(
    pkcs8: &[u8],
    alg: Algorithm,
) -> Result<(EllipticCurve, Vec<u8>, Vec<u8>)> {
    use ring::signature::KeyPair as _;
    let (curve, half) = match alg {
        Algorithm::ES256 => (EllipticCurve::P256, 32),
        Algorithm::ES384 => (EllipticCurve::P384, 48),
        _ => return Err(ErrorKind::InvalidEcdsaKey.into()),
    };
    let pair = ecdsa_pair(alg, pkcs8)?;
    // An uncompressed point: 0x04, x, y.
    let point = pair.public_key().as_ref();
    match point.split_first() {
        Some((4, xy)) if xy.len() == 2 * half => {
            let (x, y) = xy.split_at(half);
            Ok((curve, x.to_vec(), y.to_vec()))
        }
        _ => Err(Error::from(ErrorKind::InvalidEcdsaKey)),
    }
}

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> Result<Vec<u8>> {
    let alg = match hash {
        ThumbprintHash::SHA256 => &ring::digest::SHA256,
        ThumbprintHash::SHA384 => &ring::digest::SHA384,
        ThumbprintHash::SHA512 => &ring::digest::SHA512,
        _ => return Err(ErrorKind::InvalidAlgorithm.into()),
    };
    Ok(ring::digest::digest(alg, data).as_ref().to_vec())
}

/// `true` when `alg` is an asymmetric algorithm this provider verifies.
pub fn is_supported(alg: Algorithm) -> bool {
    verification(alg).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_is_refused_even_with_a_matching_key() {
        install();
        let key = DecodingKey::from_secret(b"secret");
        assert!(new_verifier(&Algorithm::HS256, &key).is_err());
        assert!(!is_supported(Algorithm::HS256));
        assert!(is_supported(Algorithm::RS256) && is_supported(Algorithm::ES256));
    }

    #[test]
    fn a_key_of_another_family_is_refused() {
        install();
        let rsa = DecodingKey::from_rsa_raw_components(&[1, 2, 3], &[1, 0, 1]);
        assert!(new_verifier(&Algorithm::ES256, &rsa).is_err());
        assert!(new_verifier(&Algorithm::RS256, &rsa).is_ok());
    }

    #[test]
    fn es256_signs_and_verifies_and_rejects_tampering() {
        install();
        let rng = SystemRandom::new();
        let pkcs8 =
            rs::EcdsaKeyPair::generate_pkcs8(&rs::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let (_, x, y) = ec_components_from_private_key(pkcs8.as_ref(), Algorithm::ES256).unwrap();
        let signer =
            new_signer(&Algorithm::ES256, &EncodingKey::from_ec_der(pkcs8.as_ref())).unwrap();
        let sig = signer.try_sign(b"header.payload").unwrap();
        let b64 = |b: &[u8]| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
        };
        let public = DecodingKey::from_ec_components(&b64(&x), &b64(&y)).unwrap();
        let verifier = new_verifier(&Algorithm::ES256, &public).unwrap();
        assert!(verifier.verify(b"header.payload", &sig).is_ok());
        assert!(verifier.verify(b"header.payloaD", &sig).is_err());
    }
}
