/**
 * <b>Test code</b>, shared by the tests of several modules: a stand-in for Vault's Transit HTTP API and a
 * SoftHSM2 token. Never on a production classpath.
 */
package io.embedseal.kms.testsupport;
