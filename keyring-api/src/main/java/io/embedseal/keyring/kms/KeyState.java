package io.embedseal.keyring.kms;

/** Whether a key may be used at all. A destroyed key has no state: describing it fails with {@link UnknownKeyException}. */
public enum KeyState {
    ENABLED,
    DISABLED
}
