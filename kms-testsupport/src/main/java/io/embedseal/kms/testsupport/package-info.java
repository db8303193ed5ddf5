/**
 * <b>Test code</b>, shared by the tests of several modules: a real Vault API (OpenBao, one dev server per test
 * JVM, a namespace per test class, the operator's policies from deploy/vault), a fault injector in front of it for
 * what the real server cannot be made to do, and a SoftHSM2 token. Never on a production classpath.
 */
package io.embedseal.kms.testsupport;
