package io.embedseal.app.ops;

import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.kms.ImportParameters;
import io.embedseal.keyring.kms.KekKind;
import io.embedseal.keyring.kms.KeyImport;
import io.embedseal.keyring.kms.KeyImportWrap;
import io.embedseal.keyring.kms.PublicKek;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.RSAPublicKeySpec;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The two sides of a key import that are not the import itself ({@code tenants add --import-key}). */
final class KeyImportCommands {

    private KeyImportCommands() {}

    @Command(
            name = "import-params",
            mixinStandardHelpOptions = true,
            description = {
                "Key import, step 1 (operator): writes what the tenant needs to wrap key material it made for this KMS: "
                        + "the KMS's transport public key, the wrapping (RSA-OAEP, then AES key wrap with padding) and "
                        + "the key material's format. Nothing changes in the KMS; nothing in the file is secret.",
                "Step 2 is the tenant's ('keys wrap-for-import', or its own HSM and openssl: docs/key-management.md), "
                        + "step 3 the operator's ('tenants add --import-key')."
            },
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:written", "1:the KMS cannot import, or failed", "2:invalid usage"})
    static final class ImportParams extends OperatorCommand {

        @Option(names = "--tenant", required = true, description = "The tenant the key is for.")
        String tenant;

        @Option(names = "--key-name", description = "The key's name in the KMS (default: the naming template's).")
        String keyName;

        @Option(
                names = "--kek-kind",
                defaultValue = "symmetric",
                description = "symmetric (default) or public-key (a key pair).")
        String kekKind;

        @Option(names = "--out", required = true, paramLabel = "FILE", description = "Where to write the parameters.")
        Path out;

        @Override
        int run(ClusterOptions.Cluster cluster) throws Exception {
            KeyringSettings ks = cluster.keyringSettings();
            String name = keyName != null ? keyName : ks.naming().kekNameFor(tenant);
            try (OperatorContext ctx = new OperatorContext(cluster, actor)) {
                KeyImport imports = ctx.admin
                        .keyImport()
                        .orElseThrow(() -> new OperationFailed(
                                "the " + ctx.admin.provider() + " KMS provider cannot import keys"));
                ImportParameters p = imports.parameters(name, KekKind.parse(kekKind));
                KeyImportFiles.writeParameters(out, p);
                out().println("wrote " + out + ": import of a " + p.kind().label() + " KEK '" + name + "' into the "
                        + p.provider() + " KMS; wrap " + p.material().description() + " with "
                        + p.wrapping().label()
                        + " under transport key " + PublicKek.fingerprint(p.transportKey()));
                return 0;
            }
        }
    }

    @Command(
            name = "wrap-for-import",
            mixinStandardHelpOptions = true,
            description = {
                "Key import, step 2 (the tenant, on its own machine; needs no cluster or KMS access): makes key material "
                        + "(or takes the tenant's own with --key-material), wraps it for the KMS's transport key from the "
                        + "parameters file, and writes the import file with the proof of which key it is: a key check "
                        + "for a symmetric key, the public key for a key pair. Prints the check value or the public key's "
                        + "fingerprint, which the operator's 'tenants add --import-key' must print back."
            },
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:written", "1:failed", "2:invalid usage"})
    static final class WrapForImport implements Callable<Integer> {

        @Option(names = "--params", required = true, paramLabel = "FILE", description = "From 'keys import-params'.")
        Path params;

        @Option(
                names = "--key-material",
                paramLabel = "FILE",
                description = "The tenant's own key material: 32 raw bytes (an AES-256 or X25519 key), or an RSA-3072 "
                        + "private key as PKCS#8 DER. Default: made here, from the JDK's SecureRandom.")
        Path keyMaterial;

        @Option(names = "--out", required = true, paramLabel = "FILE", description = "Where to write the import file.")
        Path out;

        @Option(
                names = "--transport-fingerprint",
                paramLabel = "SHA256:...",
                description =
                        "The KMS's transport key fingerprint as the tenant learned it from the KMS itself (not "
                                + "from the parameters file, which whoever handed it over could have changed): the wrap is made "
                                + "only if the file's key has this fingerprint. Without it the fingerprint is printed, to compare.")
        String transportFingerprint;

        @Option(
                names = "--save-key-material",
                paramLabel = "FILE",
                description = "Where to keep a copy of the key material this command makes (written 0600): once "
                        + "imported, the KMS never exports it. Default: no copy is kept.")
        Path saveKeyMaterial;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            ImportParameters p;
            try {
                p = KeyImportFiles.readParameters(params);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
            }
            String fingerprint = PublicKek.fingerprint(p.transportKey());
            if (transportFingerprint != null && !transportFingerprint.strip().equals(fingerprint)) {
                spec.commandLine()
                        .getErr()
                        .println("embedseal keys wrap-for-import: the parameters' transport key is " + fingerprint
                                + ", not " + transportFingerprint.strip() + ": not the KMS's key; nothing wrapped");
                spec.commandLine().getErr().flush();
                return 1;
            }
            KeyImportWrap.Material m = keyMaterial == null ? KeyImportWrap.generate(p) : material(p, keyMaterial);
            byte[] secret = m.secret();
            try {
                if (keyMaterial == null && saveKeyMaterial != null) {
                    Files.write(saveKeyMaterial, secret);
                    try {
                        Files.setPosixFilePermissions(
                                saveKeyMaterial, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
                    } catch (UnsupportedOperationException e) {
                        // not a POSIX file system: the directory's permissions decide
                    }
                }
                byte[] wrapped = KeyImportWrap.wrap(p, secret);
                byte[] check = p.kind() == KekKind.SYMMETRIC ? KeyImportWrap.check(secret) : null;
                KeyImportFiles.writeImport(out, new KeyImportFiles.Import(p, wrapped, check, m.publicKey()));
                spec.commandLine()
                        .getOut()
                        .println("wrote " + out + " for " + p.provider() + ":" + p.keyName() + " ("
                                + p.kind().label() + ")");
                if (check != null) {
                    spec.commandLine()
                            .getOut()
                            .println("key check value " + KeyImportWrap.checkValue(check)
                                    + ": the operator's import must print the same");
                } else {
                    spec.commandLine()
                            .getOut()
                            .println("public key "
                                    + PublicKek.fingerprint(java.util.Objects.requireNonNull(m.publicKey()))
                                    + ": the operator's import must print the same");
                }
                spec.commandLine().getOut().flush();
                return 0;
            } finally {
                Arrays.fill(secret, (byte) 0);
            }
        }

        /** The tenant's own material, checked against what the KMS takes; for a key pair, its public key derived. */
        private static KeyImportWrap.Material material(ImportParameters p, Path file) throws Exception {
            byte[] bytes = Files.readAllBytes(file);
            switch (p.material()) {
                case AES_256_RAW -> {
                    if (bytes.length != 32) {
                        throw new IllegalArgumentException(
                                "--key-material: an AES-256 key is 32 raw bytes, " + file + " has " + bytes.length);
                    }
                    return new KeyImportWrap.Material(bytes, null);
                }
                case RSA_3072_PKCS8 -> {
                    try {
                        RSAPrivateCrtKey key = (RSAPrivateCrtKey)
                                KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(bytes));
                        if (key.getModulus().bitLength() != 3072) {
                            throw new IllegalArgumentException("--key-material: the KMS takes an RSA-3072 key, " + file
                                    + " holds RSA-" + key.getModulus().bitLength());
                        }
                        byte[] spki = KeyFactory.getInstance("RSA")
                                .generatePublic(new RSAPublicKeySpec(key.getModulus(), key.getPublicExponent()))
                                .getEncoded();
                        return new KeyImportWrap.Material(bytes, spki);
                    } catch (GeneralSecurityException | ClassCastException e) {
                        throw new IllegalArgumentException(
                                "--key-material: " + file + " is not an RSA private key in PKCS#8 DER", e);
                    }
                }
                case X25519_RAW -> {
                    if (bytes.length != 32) {
                        throw new IllegalArgumentException(
                                "--key-material: an X25519 key is 32 raw bytes, " + file + " has " + bytes.length);
                    }
                    return new KeyImportWrap.Material(bytes, KeyImportWrap.x25519PublicKey(bytes));
                }
            }
            throw new IllegalStateException("unknown material " + p.material());
        }
    }
}
