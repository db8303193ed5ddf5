package io.embedseal.keyring.kms.decorator;

import io.embedseal.keyring.kms.KekKind;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KeyAdministration;
import io.embedseal.keyring.kms.KeyDescription;
import io.embedseal.keyring.kms.KmsOperation;
import io.embedseal.keyring.kms.PublicKek;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * A {@link KeyAdministration} whose every call runs through a {@link KmsInterceptor}. It implements
 * {@link KeyAdministration} only: the operator's view cannot wrap or unwrap DEKs.
 */
public final class InterceptedKeyAdministration implements KeyAdministration {

    private final KeyAdministration delegate;
    private final KmsInterceptor interceptor;

    public InterceptedKeyAdministration(KeyAdministration delegate, KmsInterceptor interceptor) {
        this.delegate = Objects.requireNonNull(delegate, "delegate");
        this.interceptor = Objects.requireNonNull(interceptor, "interceptor");
    }

    /** {@code admin} with nothing around it, seen as administration only. */
    public static KeyAdministration view(KeyAdministration admin) {
        return new InterceptedKeyAdministration(admin, InterceptedKms.Passthrough.INSTANCE);
    }

    @Override
    public String provider() {
        return delegate.provider();
    }

    @Override
    public KeyDescription describe(String keyName) {
        return interceptor.around(provider(), KmsOperation.DESCRIBE, keyName, null, () -> delegate.describe(keyName));
    }

    @Override
    public KekRef createKek(String keyName) {
        return interceptor.around(provider(), KmsOperation.CREATE, keyName, null, () -> delegate.createKek(keyName));
    }

    @Override
    public KekRef createKek(String keyName, KekKind kind) {
        return interceptor.around(
                provider(), KmsOperation.CREATE, keyName, null, () -> delegate.createKek(keyName, kind));
    }

    @Override
    public @Nullable PublicKek publicKek(String keyName, int version) {
        return interceptor.around(
                provider(), KmsOperation.DESCRIBE, keyName, version, () -> delegate.publicKek(keyName, version));
    }

    /** The provider's key import, its calls audited as creations (importing a key creates it). */
    @Override
    public java.util.Optional<io.embedseal.keyring.kms.KeyImport> keyImport() {
        return delegate.keyImport().map(imports -> new io.embedseal.keyring.kms.KeyImport() {
            @Override
            public Set<KekKind> kinds() {
                return imports.kinds();
            }

            @Override
            public io.embedseal.keyring.kms.ImportParameters parameters(String keyName, KekKind kind) {
                return interceptor.around(
                        provider(), KmsOperation.DESCRIBE, keyName, null, () -> imports.parameters(keyName, kind));
            }

            @Override
            public KekRef importKek(String keyName, KekKind kind, byte[] wrapped) {
                return interceptor.around(
                        provider(),
                        KmsOperation.CREATE,
                        keyName,
                        null,
                        () -> imports.importKek(keyName, kind, wrapped));
            }

            @Override
            public void requireImportedOnly(String keyName) {
                interceptor.around(provider(), KmsOperation.DESCRIBE, keyName, null, () -> {
                    imports.requireImportedOnly(keyName);
                    return Boolean.TRUE;
                });
            }

            @Override
            public byte[] checkAsWrappedDek(KekRef kek, byte[] check) {
                return imports.checkAsWrappedDek(kek, check); // formatting only, no KMS call
            }
        });
    }

    @Override
    public KekRef rotate(String keyName) {
        return interceptor.around(provider(), KmsOperation.ROTATE, keyName, null, () -> delegate.rotate(keyName));
    }

    @Override
    public void restrictVersions(String keyName, int minDecryptionVersion) {
        interceptor.around(provider(), KmsOperation.RESTRICT, keyName, minDecryptionVersion, () -> {
            delegate.restrictVersions(keyName, minDecryptionVersion);
            return null;
        });
    }

    @Override
    public void disable(String keyName) {
        interceptor.around(provider(), KmsOperation.DISABLE, keyName, null, () -> {
            delegate.disable(keyName);
            return null;
        });
    }

    @Override
    public void enable(String keyName) {
        interceptor.around(provider(), KmsOperation.ENABLE, keyName, null, () -> {
            delegate.enable(keyName);
            return null;
        });
    }

    @Override
    public void destroy(String keyName) {
        interceptor.around(provider(), KmsOperation.DESTROY, keyName, null, () -> {
            delegate.destroy(keyName);
            return null;
        });
    }

    @Override
    public java.util.Optional<String> destructionNote(String keyName) {
        return delegate.destructionNote(keyName);
    }

    @Override
    public Set<KmsOperation> supportedOperations() {
        return delegate.supportedOperations();
    }

    @Override
    public Set<KmsOperation> supportedOperations(String keyName) {
        return delegate.supportedOperations(keyName);
    }

    @Override
    public String ownerAdvice(KmsOperation operation, String keyName) {
        return delegate.ownerAdvice(operation, keyName);
    }

    @Override
    public void close() {
        delegate.close();
    }

    @Override
    public String toString() {
        return "InterceptedKeyAdministration[" + interceptor.getClass().getSimpleName() + " around " + delegate + "]";
    }
}
