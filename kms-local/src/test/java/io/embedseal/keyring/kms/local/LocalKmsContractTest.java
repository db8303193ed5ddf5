package io.embedseal.keyring.kms.local;

import io.embedseal.keyring.kms.KmsContractTest;
import io.embedseal.keyring.kms.KmsProvider;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.io.TempDir;

@DisplayName("KMS contract on local (Tink keyset files)")
class LocalKmsContractTest extends KmsContractTest {

    @TempDir
    static Path dir;

    private static LocalKms kms;

    @BeforeAll
    static void start() {
        kms = new LocalKms(dir);
    }

    @Override
    protected KmsProvider kms() {
        return kms;
    }
}
