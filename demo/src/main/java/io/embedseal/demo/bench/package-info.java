/** {@code embedseal bench}: the sealing pipeline against a plaintext pass-through topology, side by side. */
package io.embedseal.demo.bench;
