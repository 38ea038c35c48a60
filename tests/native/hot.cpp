// SPDX-License-Identifier: MIT
// A C++ workload for test_native.py: a method of a class in a namespace, a
// function template and a lambda, each hot for about a third of the time,
// so that their demangled names must appear in the profile.
#include <chrono>
#include <cstdint>
#include <cstdlib>

static volatile std::uint64_t sink;

namespace shapes
{
class Grinder
{
      public:
	__attribute__((noinline)) void grind(std::uint64_t n)
	{
		for (std::uint64_t i = 0; i < n; i++)
			sink += i ^ (i >> 3);
	}
};
} // namespace shapes

template <typename T> __attribute__((noinline)) T accumulate(T n)
{
	T total = 0;
	for (T i = 0; i < n; i++)
		sink = total += i * 3;
	return total;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? std::atof(argv[1]) : 3;
	auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
	auto spin = [](std::uint64_t n) __attribute__((noinline))
	{
		for (std::uint64_t i = 0; i < n; i++)
			sink -= i * 7;
	};
	shapes::Grinder g;

	while (std::chrono::steady_clock::now() < end) {
		g.grind(300000);
		accumulate<std::uint64_t>(300000);
		spin(300000);
	}
	return 0;
}
