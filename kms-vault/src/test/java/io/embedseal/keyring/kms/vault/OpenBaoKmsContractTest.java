package io.embedseal.keyring.kms.vault;

import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsContractTest;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsProviderRegistry;
import io.embedseal.keyring.kms.KmsSettings;
import io.embedseal.kms.testsupport.OpenBao;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;

/**
 * The contract on a real Vault API: OpenBao's Transit engine, with the operator's and the pipeline's tokens under
 * the policies operators are told to write (deploy/vault/embedseal-operator.hcl and embedseal-pipeline.hcl), so
 * the contract also proves those policies grant exactly what each role needs.
 */
@DisplayName("KMS contract on vault (real OpenBao dev server, deploy/vault policies)")
class OpenBaoKmsContractTest extends KmsContractTest {

    private static KmsProvider operator;
    private static Kms pipeline;

    @BeforeAll
    static void start() {
        OpenBao.Namespace ns = OpenBao.namespace();
        operator = provider(ns, ns.token("embedseal-operator"));
        pipeline = provider(ns, ns.token("embedseal-pipeline"));
    }

    static KmsProvider provider(OpenBao.Namespace ns, String token) {
        return provider(ns, token, Map.of());
    }

    static KmsProvider provider(OpenBao.Namespace ns, String token, Map<String, String> extra) {
        Map<String, String> s = new java.util.HashMap<>(ns.settings());
        s.putAll(extra);
        return KmsProviderRegistry.create(KmsSettings.of(s, name -> name.equals("VAULT_TOKEN") ? token : null));
    }

    /** The deploy/vault policies grant the tenant keys' names only, as the pipeline names them. */
    @Override
    protected String newKeyName() {
        return "tenant-contract-" + UUID.randomUUID().toString().substring(0, 12);
    }

    @Override
    protected KmsProvider kms() {
        return operator;
    }

    @Override
    protected Kms pipelineKms() {
        return pipeline;
    }
}
