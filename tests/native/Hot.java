// SPDX-License-Identifier: MIT
// For test_native.py: churn is hot and, once the JIT has compiled it,
// named only by the perf map that jcmd PID Compiler.perfmap writes.
public class Hot {
    static long churn(long n) {
        long x = 0;
        for (long i = 0; i < n; i++)
            x = (x + i * i) % 1000003;
        return x;
    }

    public static void main(String[] args) {
        long end = System.currentTimeMillis() + (long) (1000 * Double.parseDouble(args[0]));
        long s = 0;
        while (System.currentTimeMillis() < end)
            s += churn(1000000);
        System.out.println(s > 0);
    }
}
