package io.embedseal.app;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/** {@code --kms} and {@code --kms-setting}: the keyring settings of commands that take them on the command line. */
public final class KmsOptions {

    @Option(
            names = "--kms",
            defaultValue = "local",
            description = "KMS provider: local (default; development only), "
                    + "vault, pkcs11 or aws. Give the provider's settings with --kms-setting.")
    public String kms;

    @Option(
            names = "--kms-setting",
            paramLabel = "KEY=VALUE",
            description = "A keyring setting (kms.* or dek.*), e.g. "
                    + "kms.vault.address=https://vault:8200, kms.vault.token-file=/run/secrets/vault-token, "
                    + "kms.pkcs11.library=/usr/lib/softhsm/libsofthsm2.so, kms.pkcs11.slot=0, kms.pkcs11.pin-file=..., "
                    + "kms.aws.region=eu-west-1 "
                    + "Repeatable. See docs/key-management.md.")
    public List<String> kmsSettings = new ArrayList<>();

    /**
     * The settings given, {@code kms.provider} included.
     *
     * @throws IllegalArgumentException naming the option, if one is malformed or they disagree
     */
    public Map<String, String> settings() {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("kms.provider", kms);
        for (String kv : kmsSettings) {
            int eq = kv.indexOf('=');
            if (eq <= 0 || !(kv.startsWith("kms.") || kv.startsWith("dek."))) {
                throw new IllegalArgumentException(
                        "--kms-setting must be KEY=VALUE with a kms.* or dek.* key, got '" + kv + "'");
            }
            s.put(kv.substring(0, eq).trim(), kv.substring(eq + 1).trim());
        }
        if (!s.get("kms.provider").equals(kms)) {
            throw new IllegalArgumentException(
                    "--kms " + kms + " and --kms-setting kms.provider=" + s.get("kms.provider") + " disagree");
        }
        return s;
    }

    /** True if the user gave any KMS option (so they must not also give a configuration file's KMS settings). */
    public boolean given() {
        return !kmsSettings.isEmpty() || !"local".equals(kms);
    }
}
