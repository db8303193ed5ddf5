/** {@code embedseal demo}: the whole pipeline on embedded defaults, checked end to end. */
package io.embedseal.demo;
