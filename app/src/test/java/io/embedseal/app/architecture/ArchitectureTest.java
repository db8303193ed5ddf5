package io.embedseal.app.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaMethodCall;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.EvaluationResult;
import io.embedseal.keyring.kms.KeyAdministration;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The layering the modules promise, checked on the compiled main classes of every module the runtime holds
 * (schemas, keyring-api, the kms-* providers, keyring, client, control, topology, sinks, app): a lower module never reaches a higher one, Kafka never enters
 * the keyring, the runtime never reaches the test kit or an in-process broker, and only the operator commands
 * change a tenant's key. Each rule is also run once on a fixture that breaks it, so a rule that cannot fail
 * would show here.
 */
class ArchitectureTest {

    private static JavaClasses main;
    private static JavaClasses fixtures;

    @BeforeAll
    static void importClasses() {
        main = new ClassFileImporter()
                .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("io.embedseal");
        fixtures = new ClassFileImporter()
                .importPackages(
                        "io.embedseal.config.archfixture",
                        "io.embedseal.keyring.archfixture",
                        "io.embedseal.serdes.archfixture",
                        "io.embedseal.control.archfixture",
                        "io.embedseal.topology.archfixture",
                        "io.embedseal.sinks.archfixture",
                        "io.embedseal.app.archfixture");
    }

    /** Key-changing calls, by method name, on whatever holds administration. */
    private static final Set<String> KEY_CHANGES =
            Set.of("createKek", "rotate", "restrictVersions", "disable", "enable", "destroy");

    private static final DescribedPredicate<JavaMethodCall> CHANGES_A_KEY =
            new DescribedPredicate<>("change a tenant's key") {
                @Override
                public boolean test(JavaMethodCall call) {
                    return KEY_CHANGES.contains(call.getName())
                            && call.getTargetOwner().isAssignableTo(KeyAdministration.class);
                }
            };

    static ArchRule configIsTheBottom() {
        return noClasses()
                .that()
                .resideInAPackage("io.embedseal.config..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "io.embedseal.keyring..",
                        "io.embedseal.serdes..",
                        "io.embedseal.control..",
                        "io.embedseal.topology..",
                        "io.embedseal.sinks..",
                        "io.embedseal.app..",
                        "org.apache.kafka..")
                .because("the configuration model is what every module defines its settings with");
    }

    static ArchRule keyringIsKafkaFreeAndLowest() {
        return noClasses()
                .that()
                .resideInAPackage("io.embedseal.keyring..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "org.apache.kafka..",
                        "io.embedseal.serdes..",
                        "io.embedseal.topology..",
                        "io.embedseal.sinks..",
                        "io.embedseal.app..",
                        "io.embedseal.demo..")
                .because("the crypto core knows nothing of Kafka or of what is built on it");
    }

    static ArchRule providersChosenByNameOnly() {
        return noClasses()
                .that()
                .resideOutsideOfPackages(
                        "io.embedseal.keyring.kms.local..",
                        "io.embedseal.keyring.kms.vault..",
                        "io.embedseal.keyring.kms.pkcs11..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "io.embedseal.keyring.kms.local..",
                        "io.embedseal.keyring.kms.vault..",
                        "io.embedseal.keyring.kms.pkcs11..")
                .because(
                        "a provider is picked by the name kms.provider gives (KmsProviderRegistry), so a deployment takes only "
                                + "the provider modules it uses");
    }

    static ArchRule clientBelowEverythingKafka() {
        return noClasses()
                .that()
                .resideInAPackage("io.embedseal.serdes..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "io.embedseal.control..",
                        "io.embedseal.topology..",
                        "io.embedseal.sinks..",
                        "io.embedseal.app..",
                        "io.embedseal.demo..",
                        "org.apache.kafka.streams..",
                        "org.apache.kafka.connect..",
                        "org.apache.lucene..",
                        "java.sql..",
                        "org.postgresql..")
                .because(
                        "the client artifact (embedseal-client) holds what a producer or consumer needs, nothing more");
    }

    static ArchRule controlBelowTopologyAndSinks() {
        return noClasses()
                .that()
                .resideInAPackage("io.embedseal.control..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "io.embedseal.topology..",
                        "io.embedseal.sinks..",
                        "io.embedseal.app..",
                        "io.embedseal.demo..",
                        "org.apache.kafka.streams..",
                        "org.apache.kafka.connect..");
    }

    static ArchRule topologyAndSinksIndependent() {
        return noClasses()
                .that()
                .resideInAPackage("io.embedseal.topology..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage("io.embedseal.sinks..", "io.embedseal.app..", "io.embedseal.demo..");
    }

    static ArchRule sinksBelowApp() {
        return noClasses()
                .that()
                .resideInAPackage("io.embedseal.sinks..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "io.embedseal.topology..",
                        "io.embedseal.app..",
                        "io.embedseal.demo..",
                        "org.apache.kafka.streams..");
    }

    static ArchRule runtimeWithoutInProcessParts() {
        return noClasses()
                .that()
                .resideInAnyPackage(
                        "io.embedseal.keyring..",
                        "io.embedseal.serdes..",
                        "io.embedseal.topology..",
                        "io.embedseal.sinks..",
                        "io.embedseal.app..")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "io.embedseal.testkit..",
                        "io.embedseal.kms.testsupport..",
                        "kafka.server..",
                        "org.apache.kafka.connect.runtime..",
                        "org.apache.kafka.raft..")
                .because("the runtime ships without a broker, the Connect runtime or test support");
    }

    static ArchRule onlyTheOperatorChangesKeys() {
        return noClasses()
                .that()
                .resideInAnyPackage(
                        "io.embedseal.keyring",
                        "io.embedseal.keyring.dek..",
                        "io.embedseal.keyring.tenant..",
                        "io.embedseal.control..",
                        "io.embedseal.serdes..",
                        "io.embedseal.topology..",
                        "io.embedseal.sinks..",
                        "io.embedseal.app.run..",
                        "io.embedseal.app.search..",
                        "io.embedseal.app.http..")
                .should()
                .callMethodWhere(CHANGES_A_KEY)
                .because(
                        "the pipeline, the sinks and search use keys; only the operator commands (app.ops) administer them");
    }

    @Test
    void config_dependsOnNoOtherModule() {
        configIsTheBottom().check(main);
    }

    @Test
    void keyring_isKafkaFree_andDependsOnNothingAboveIt() {
        keyringIsKafkaFreeAndLowest().check(main);
    }

    @Test
    void client_doesNotReachControlTopologySinksAppOrAStore() {
        clientBelowEverythingKafka().check(main);
    }

    @Test
    void control_doesNotReachTopologySinksOrApp() {
        controlBelowTopologyAndSinks().check(main);
    }

    @Test
    void kmsProviders_areReachedByNameOnly() {
        providersChosenByNameOnly().check(main);
    }

    @Test
    void topology_doesNotReachSinksOrApp() {
        topologyAndSinksIndependent().check(main);
    }

    @Test
    void sinks_doNotReachTopologyOrApp() {
        sinksBelowApp().check(main);
    }

    @Test
    void runtime_doesNotReachTheTestKitOrAnInProcessBroker() {
        runtimeWithoutInProcessParts().check(main);
    }

    @Test
    void onlyTheOperatorCommands_changeATenantsKey() {
        onlyTheOperatorChangesKeys().check(main);
    }

    @Test
    void everyRule_failsOnAClassThatBreaksIt() {
        for (ArchRule rule : new ArchRule[] {
            configIsTheBottom(),
            keyringIsKafkaFreeAndLowest(),
            providersChosenByNameOnly(),
            clientBelowEverythingKafka(),
            controlBelowTopologyAndSinks(),
            topologyAndSinksIndependent(),
            sinksBelowApp(),
            runtimeWithoutInProcessParts(),
            onlyTheOperatorChangesKeys()
        }) {
            EvaluationResult result = rule.evaluate(fixtures);
            assertThat(result.hasViolation())
                    .as("the fixtures break: %s", rule.getDescription())
                    .isTrue();
        }
    }
}
