/** JMH benchmarks. Run {@code java -jar bench/target/embedseal-bench.jar -h} for JMH's options; docs/performance.md has the commands. */
package io.embedseal.bench;
