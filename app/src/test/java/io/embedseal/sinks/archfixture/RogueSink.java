package io.embedseal.sinks.archfixture;

import io.embedseal.keyring.kms.KeyAdministration;

/** Breaks the rules on purpose, for ArchitectureTest: a sink reaching the topology and destroying a key. Never used. */
final class RogueSink {
    io.embedseal.topology.TopicNames topics;

    void shred(KeyAdministration admin, String keyName) {
        admin.destroy(keyName);
    }
}
