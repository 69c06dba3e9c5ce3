/*
 * nofp_cxx: C++ call chains built WITHOUT frame pointers.
 *
 *   ns::Server::handle(int) -> ns::build_name(int): 4 std::strings of 100
 *        chars, longer than the SSO buffer (so they allocate through
 *        operator new, 101 bytes each), each kept through a new'ed
 *        std::string* in a global vector.  The stack
 *        of the string's buffer has ns::build_name(int), then
 *        ns::Server::handle(int), then main.
 *   ns::fill(int): 1000 x push_back on a global std::vector<int>; its
 *        growth stacks have ns::fill(int) then main.
 */
#include <string>
#include <vector>

#include "wl_common.h"

namespace ns {

// Never destroyed, so everything is still live when the process exits.
std::vector<std::string *> &g_names = *new std::vector<std::string *>;
std::vector<int> &g_ints = *new std::vector<int>;

// Returns nothing: a function returning a std::string (pointer) would be
// named "ns::build_name[abi:cxx11](int)".
NOINLINE void build_name(int i)
{
	g_names[i] = new std::string(100, static_cast<char>('a' + i));
}

struct Server {
	NOINLINE void handle(int i);
};

NOINLINE void Server::handle(int i)
{
	build_name(i);
}

NOINLINE void fill(int n)
{
	for (int i = 0; i < n; i++)
		g_ints.push_back(i);
}

} // namespace ns

int main(int argc, char **argv)
{
	wl_start(&argc, argv);
	ns::g_names.resize(4);
	ns::Server server;
	for (int i = 0; i < WL_TIMES(4); i++)
		server.handle(i);
	ns::fill(WL_TIMES(1000));
	wl_done_and_linger();
	return 0;
}
