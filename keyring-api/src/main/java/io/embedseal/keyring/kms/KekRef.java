package io.embedseal.keyring.kms;

import java.util.regex.Pattern;

/**
 * Names one version of a key-encryption key in one KMS: {@code provider:keyName:version}, for example
 * {@code vault:tenant-acme:3}. It is an identifier, not a secret, and appears in sealed envelopes, key
 * events and logs.
 *
 * @param provider the KMS provider name as configured ({@code local}, {@code vault}, {@code pkcs11})
 * @param keyName  the key's name inside that KMS; may contain {@code :} but no whitespace or control characters
 * @param version  the key version, 1 or more
 */
public record KekRef(String provider, String keyName, int version) {

    /** Longest key name accepted; keeps envelopes and key events small. */
    public static final int MAX_KEY_NAME_LENGTH = 200;

    private static final Pattern PROVIDER = Pattern.compile("[a-z][a-z0-9-]{0,31}");
    private static final Pattern KEY_NAME = Pattern.compile("[\\x21-\\x7e]{1," + MAX_KEY_NAME_LENGTH + "}");

    public KekRef {
        if (provider == null || !PROVIDER.matcher(provider).matches()) {
            throw new IllegalArgumentException(
                    "KMS provider name must match " + PROVIDER + ", got: " + quote(provider));
        }
        if (keyName == null || !KEY_NAME.matcher(keyName).matches()) {
            throw new IllegalArgumentException("KEK name must be 1-" + MAX_KEY_NAME_LENGTH
                    + " printable ASCII characters without spaces, got: " + quote(keyName));
        }
        if (version < 1) {
            throw new IllegalArgumentException("KEK version must be 1 or more, got: " + version);
        }
    }

    /**
     * Parses {@code provider:keyName:version}; the key name is everything between the first and the last colon.
     *
     * @throws IllegalArgumentException if the text is not of that shape
     */
    public static KekRef parse(String text) {
        if (text == null) {
            throw new IllegalArgumentException("KEK reference is missing");
        }
        int first = text.indexOf(':');
        int last = text.lastIndexOf(':');
        if (first <= 0 || last <= first + 1 || last == text.length() - 1) {
            throw new IllegalArgumentException(
                    "KEK reference must look like provider:keyName:version, got: " + quote(text));
        }
        int version;
        try {
            version = Integer.parseInt(text.substring(last + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("KEK reference version is not a number: " + quote(text), e);
        }
        return new KekRef(text.substring(0, first), text.substring(first + 1, last), version);
    }

    /** The same key at another version. */
    public KekRef withVersion(int newVersion) {
        return new KekRef(provider, keyName, newVersion);
    }

    /** True when both name the same key in the same KMS, whatever the versions. */
    public boolean sameKeyAs(KekRef other) {
        return provider.equals(other.provider) && keyName.equals(other.keyName);
    }

    @Override
    public String toString() {
        return provider + ":" + keyName + ":" + version;
    }

    private static String quote(String s) {
        if (s == null) {
            return "null";
        }
        String shown = s.length() > 80 ? s.substring(0, 80) + "..." : s;
        return "'" + shown.replaceAll("\\p{Cntrl}", "?") + "'";
    }
}
