/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --serve's address. Without a host the server listens on loopback only:
 * profiles name every function and file of the traced programs, and a
 * metrics port reachable from the network is a choice to make explicitly
 * (0.0.0.0:PORT, [::]:PORT, or the address of one interface).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "serve/serve_internal.h"

static int parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	const char *p;

	if (!*s || strlen(s) > 5)
		return -EINVAL;
	for (p = s; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

static int resolve(const char *host, uint16_t port, bool v6_only, struct serve_addr *out)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->ss;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;

	memset(&out->ss, 0, sizeof(out->ss));
	if (!v6_only && inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		out->len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		out->len = sizeof(*in6);
		return 0;
	}
	if (v6_only)
		return -EINVAL;
	/* A host name: its first address. */
	if (getaddrinfo(host, NULL, &hints, &res) || !res)
		return -ENOENT;
	if (res->ai_addrlen > sizeof(out->ss)) {
		freeaddrinfo(res);
		return -EINVAL;
	}
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	freeaddrinfo(res);
	if (out->ss.ss_family == AF_INET)
		in->sin_port = htons(port);
	else if (out->ss.ss_family == AF_INET6)
		in6->sin6_port = htons(port);
	else
		return -EINVAL;
	return 0;
}

int serve_addr__parse(const char *addr, struct serve_addr *out, const char **why)
{
	char host[256];
	const char *colon, *port_str;
	bool bracketed = false;
	uint16_t port;
	size_t hlen;
	int err;

	*why = "expected PORT, HOST:PORT or [IPV6]:PORT";
	if (!addr || !*addr)
		return -EINVAL;
	if (addr[0] == '[') {
		colon = strchr(addr, ']');
		if (!colon || colon[1] != ':')
			return -EINVAL;
		hlen = (size_t)(colon - addr - 1);
		port_str = colon + 2;
		bracketed = true;
	} else {
		colon = strrchr(addr, ':');
		if (colon && strchr(addr, ':') != colon) {
			*why = "an IPv6 address goes in brackets: [::1]:PORT";
			return -EINVAL;
		}
		hlen = colon ? (size_t)(colon - addr) : 0;
		port_str = colon ? colon + 1 : addr;
	}
	if (hlen >= sizeof(host)) {
		*why = "host name too long";
		return -EINVAL;
	}
	memcpy(host, addr + (bracketed ? 1 : 0), hlen);
	host[hlen] = '\0';
	if (parse_port(port_str, &port)) {
		*why = "invalid port (0-65535)";
		return -EINVAL;
	}
	if (!hlen) {
		if (bracketed) {
			*why = "empty IPv6 address";
			return -EINVAL;
		}
		snprintf(host, sizeof(host), "127.0.0.1");
	}
	err = resolve(host, port, bracketed, out);
	if (err)
		*why = err == -ENOENT ? "unknown host" : "invalid address";
	return err;
}

void serve_addr__str(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
	}
}
