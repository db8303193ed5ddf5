package io.embedseal.serdes.envelope;

/**
 * An opened envelope: its header and the plaintext. {@link #toString()} never shows the plaintext.
 *
 * @param header    the envelope's cleartext header
 * @param plaintext the decrypted payload, of type {@code header.payloadType()}
 */
public record Unsealed(EnvelopeHeader header, byte[] plaintext) {

    @Override
    public String toString() {
        return "Unsealed[" + header + ", plaintext=<" + plaintext.length + " bytes redacted>]";
    }
}
