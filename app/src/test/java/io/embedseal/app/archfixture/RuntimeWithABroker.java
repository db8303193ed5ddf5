package io.embedseal.app.archfixture;

/** Breaks the rules on purpose, for ArchitectureTest: runtime code starting an in-process broker. Never used. */
final class RuntimeWithABroker {
    io.embedseal.testkit.EmbeddedKafkaBroker broker;
}
