// SPDX-License-Identifier: MIT
// For test_native.py under node --perf-basic-prof: hotLoop takes about
// three quarters of the time, and is only ever JIT code.
function hotLoop(n) {
  let x = 0;
  for (let i = 0; i < n; i++) x = (x + i * i) % 1000003;
  return x;
}
function coldLoop(n) {
  let x = 0;
  for (let i = 0; i < n; i++) x ^= i;
  return x;
}
const end = Date.now() + 1000 * Number(process.argv[2] || 3);
let s = 0;
while (Date.now() < end) {
  s += hotLoop(3000000);
  s += coldLoop(1000000);
}
console.log(s > 0);
