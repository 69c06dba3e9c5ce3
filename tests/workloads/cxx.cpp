/*
 * cxx: C++ allocations, for demangling and operator new attribution.
 *
 * run_all makes, after the start signal:
 *   3 x ns::Leaker::grow(3000), each doing
 *        new char[3000]   -> stack A, innermost "ns::Leaker::grow(unsigned long)"
 *        new ns::Widget   -> stack B, innermost "ns::Leaker::grow(unsigned long)"
 *                            (sizeof(ns::Widget) == 72)
 *   ns::fill_vector(1000): 1000 x push_back on a global std::vector<int>.
 *        libstdc++ doubles the capacity: 1, 2, 4, ... 1024 ints, so
 *        11 allocations (4 * 2047 = 8188 bytes), 10 freed, 4096 bytes live.
 *        Its innermost frame is wherever the vector's growth code ended up
 *        (_M_realloc_insert or fill_vector itself); "ns::fill_vector(int)"
 *        is in the frames either way.
 *
 *  stack                      live_bytes live_allocs alloc_bytes_total allocs_total frees_total
 *  A new char[3000]                 9000           3              9000            3           0
 *  B new Widget                      216           3               216            3           0
 *  vector (has fill_vector)         4096           1              8188           11          10
 *
 * Everything is kept in globals, so all of it is still live at the end.
 * (The vector object itself is allocated, 24 bytes, during static
 * initialization, before main: not seen when attaching with -p.)
 */
#include <cstring>
#include <vector>

#include "wl_common.h"

namespace ns {

struct Widget {
	long v[9];
};
static_assert(sizeof(Widget) == 72, "tests expect a 72-byte Widget");

char *volatile g_bufs[8];
Widget *volatile g_widgets[8];
// Never destroyed, so its buffer is still live when the process exits too.
std::vector<int> &g_vec = *new std::vector<int>;

class Leaker {
public:
	NOINLINE void grow(unsigned long n);
private:
	int count_ = 0;
};

NOINLINE void Leaker::grow(unsigned long n)
{
	char *b = new char[n];
	memset(b, 0xA5, n);
	g_bufs[count_ % 8] = b;

	Widget *w = new Widget;
	w->v[0] = (long)n;
	g_widgets[count_ % 8] = w;
	count_++;
}

NOINLINE void fill_vector(int n)
{
	for (int i = 0; i < WL_TIMES(n); i++)
		g_vec.push_back(i);
}

} // namespace ns

NOINLINE void run_all()
{
	static ns::Leaker leaker;

	for (int i = 0; i < WL_TIMES(3); i++)
		leaker.grow(3000);
	ns::fill_vector(1000);
}

int main(int argc, char **argv)
{
	wl_start(&argc, argv);
	run_all();
	wl_done_and_linger();
	return 0;
}
