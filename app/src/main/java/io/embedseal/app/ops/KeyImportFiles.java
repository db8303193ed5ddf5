package io.embedseal.app.ops;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.embedseal.keyring.kms.ImportParameters;
import io.embedseal.keyring.kms.KekKind;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import org.jspecify.annotations.Nullable;

/**
 * The two files of a key import, as JSON: the <b>parameters</b> the operator hands the tenant ({@code keys
 * import-params}: the KMS's transport public key and how to wrap for it) and the <b>import</b> the tenant hands back
 * ({@code keys wrap-for-import}, or its own tools: the wrapped key material and the proof of which key it is). Neither
 * holds anything secret: the material is wrapped for the KMS's transport key, which only the KMS can open.
 */
final class KeyImportFiles {

    private static final ObjectMapper JSON = new ObjectMapper();

    private KeyImportFiles() {}

    /** What the tenant sends back: the wrapped material, and a key check (symmetric) or the public key (key pair). */
    record Import(
            ImportParameters parameters, byte[] wrapped, byte @Nullable [] keyCheck, byte @Nullable [] publicKey) {}

    static void writeParameters(Path file, ImportParameters p) throws IOException {
        Files.writeString(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(parametersJson(p)) + "\n");
    }

    static ImportParameters readParameters(Path file) throws IOException {
        return parameters(read(file), file);
    }

    static void writeImport(Path file, Import i) throws IOException {
        ObjectNode o = parametersJson(i.parameters());
        o.put("wrappedKeyMaterial", Base64.getEncoder().encodeToString(i.wrapped()));
        if (i.keyCheck() != null) {
            o.put("keyCheck", Base64.getEncoder().encodeToString(i.keyCheck()));
        }
        if (i.publicKey() != null) {
            o.put("publicKey", Base64.getEncoder().encodeToString(i.publicKey()));
        }
        Files.writeString(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(o) + "\n");
    }

    static Import readImport(Path file) throws IOException {
        JsonNode o = read(file);
        ImportParameters p = parameters(o, file);
        byte[] wrapped = bytes(o, "wrappedKeyMaterial", file, true);
        byte[] check = bytes(o, "keyCheck", file, false);
        byte[] publicKey = bytes(o, "publicKey", file, false);
        if (p.kind() == KekKind.SYMMETRIC && check == null) {
            throw new IllegalArgumentException(
                    file + ": a symmetric key's import needs its keyCheck (the proof that the"
                            + " KMS holds the tenant's key)");
        }
        if (p.kind() == KekKind.PUBLIC_KEY && publicKey == null) {
            throw new IllegalArgumentException(file
                    + ": a key pair's import needs its publicKey (the proof that the KMS" + " holds the tenant's key)");
        }
        return new Import(p, java.util.Objects.requireNonNull(wrapped), check, publicKey);
    }

    private static ObjectNode parametersJson(ImportParameters p) {
        ObjectNode o = JSON.createObjectNode();
        o.put("format", "embedseal.key-import.v1");
        o.put("provider", p.provider());
        o.put("keyName", p.keyName());
        o.put("kind", p.kind().label());
        o.put("wrapping", p.wrapping().label());
        o.put("material", p.material().label());
        o.put("materialDescription", p.material().description());
        o.put(
                "transportKey",
                "-----BEGIN PUBLIC KEY-----\n"
                        + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(p.transportKey())
                        + "\n-----END PUBLIC KEY-----\n");
        return o;
    }

    private static ImportParameters parameters(JsonNode o, Path file) {
        if (!"embedseal.key-import.v1".equals(o.path("format").asText())) {
            throw new IllegalArgumentException(file + " is not a key-import file (format embedseal.key-import.v1)");
        }
        String pem = text(o, "transportKey", file).strip();
        if (!pem.startsWith("-----BEGIN PUBLIC KEY-----") || !pem.endsWith("-----END PUBLIC KEY-----")) {
            throw new IllegalArgumentException(file + ": transportKey is not a PEM public key");
        }
        byte[] spki = Base64.getMimeDecoder()
                .decode(pem.substring(
                        "-----BEGIN PUBLIC KEY-----".length(), pem.length() - "-----END PUBLIC KEY-----".length()));
        return new ImportParameters(
                text(o, "provider", file),
                text(o, "keyName", file),
                KekKind.parse(text(o, "kind", file)),
                ImportParameters.Wrapping.parse(text(o, "wrapping", file)),
                spki,
                ImportParameters.Material.parse(text(o, "material", file)));
    }

    private static JsonNode read(Path file) throws IOException {
        try {
            return JSON.readTree(Files.readString(file, StandardCharsets.UTF_8));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException(file + " is not JSON: " + e.getOriginalMessage(), e);
        }
    }

    private static String text(JsonNode o, String field, Path file) {
        JsonNode v = o.get(field);
        if (v == null || !v.isTextual()) {
            throw new IllegalArgumentException(file + ": " + field + " is missing");
        }
        return v.asText();
    }

    private static byte @Nullable [] bytes(JsonNode o, String field, Path file, boolean required) {
        JsonNode v = o.get(field);
        if (v == null || v.isNull()) {
            if (required) {
                throw new IllegalArgumentException(file + ": " + field + " is missing");
            }
            return null;
        }
        try {
            return Base64.getDecoder().decode(v.asText());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + field + " is not base64", e);
        }
    }
}
