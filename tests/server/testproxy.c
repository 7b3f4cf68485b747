/* testproxy.c — a tiny HTTP forward proxy for the end-to-end tests: it
 * takes absolute-form requests ("GET http://ADDR:PORT/path HTTP/1.1"),
 * logs each one, forwards it to the origin (numeric addresses only) over a
 * new connection and relays the answer, closing the client's connection
 * after each request. No CONNECT, so no https. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX (64 * 1024)

static FILE *g_log;
static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads from fd into buf until "\r\n\r\n"; returns the header length
 * (through the blank line) and the bytes read in *got, or -1. */
static long read_head(int fd, char *buf, size_t cap, size_t *got)
{
	*got = 0;
	while (*got < cap - 1) {
		ssize_t r = recv(fd, buf + *got, cap - 1 - *got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		*got += (size_t)r;
		buf[*got] = '\0';
		char *end = strstr(buf, "\r\n\r\n");
		if (end)
			return (long)(end + 4 - buf);
	}
	return -1;
}

static void answer(int fd, const char *status)
{
	char b[256];
	int n = snprintf(b, sizeof b, "HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status);
	send_all(fd, b, (size_t)n);
}

/* Connects to the origin host:port (numeric). */
static int dial(const char *host, const char *port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV}, *ai;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return -1;
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

/* Whether header line (without CRLF) is a hop-by-hop one the proxy drops. */
static int hop_header(const char *line)
{
	static const char *const names[] = {"connection:", "proxy-connection:", "keep-alive:", "proxy-authorization:"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strncasecmp(line, names[i], strlen(names[i])) == 0)
			return 1;
	return 0;
}

/* Sends the header lines of head (after its first line) to fd, without the
 * hop-by-hop ones, then "Connection: close" and the blank line. */
static int send_headers(int fd, char *head)
{
	char *line = strstr(head, "\r\n") + 2;
	while (strncmp(line, "\r\n", 2) != 0) {
		char *eol = strstr(line, "\r\n");
		if (!hop_header(line) && send_all(fd, line, (size_t)(eol + 2 - line)))
			return -1;
		line = eol + 2;
	}
	return send_all(fd, "Connection: close\r\n\r\n", 21);
}

static void *serve(void *arg)
{
	int cfd = (int)(intptr_t)arg, ofd = -1;
	char *req = malloc(HEAD_MAX), *resp = malloc(HEAD_MAX);
	char method[16], target[8192], host[256], port[16] = "80";
	size_t got;
	long hl;
	if (!req || !resp || (hl = read_head(cfd, req, HEAD_MAX, &got)) < 0)
		goto out;
	if (sscanf(req, "%15s %8191s", method, target) != 2 || strncmp(target, "http://", 7) != 0) {
		answer(cfd, "400 Bad Request");
		goto out;
	}
	const char *h = target + 7, *path = strchr(h, '/');
	size_t hlen = path ? (size_t)(path - h) : strlen(h);
	if (!path)
		path = "/";
	const char *colon = *h == '[' ? strstr(h, "]:") : strchr(h, ':');
	if (colon && colon < h + hlen) {
		const char *pp = colon + (*h == '[' ? 2 : 1);
		snprintf(port, sizeof port, "%.*s", (int)(h + hlen - pp), pp);
		hlen = (size_t)(colon - h) + (*h == '[');
	}
	if (*h == '[')
		snprintf(host, sizeof host, "%.*s", (int)hlen - 2, h + 1);
	else
		snprintf(host, sizeof host, "%.*s", (int)hlen, h);
	pthread_mutex_lock(&g_log_mu);
	fprintf(g_log, "%s %s\n", method, target);
	fflush(g_log);
	pthread_mutex_unlock(&g_log_mu);
	ofd = dial(host, port);
	if (ofd < 0) {
		answer(cfd, "502 Bad Gateway");
		goto out;
	}
	char line[8400];
	int n = snprintf(line, sizeof line, "%s %s HTTP/1.1\r\n", method, path);
	if (send_all(ofd, line, (size_t)n) || send_headers(ofd, req))
		goto out;
	/* the answer: its header without hop-by-hop lines, then the rest as it comes */
	long rl = read_head(ofd, resp, HEAD_MAX, &got);
	if (rl < 0) {
		answer(cfd, "502 Bad Gateway");
		goto out;
	}
	char *eol = strstr(resp, "\r\n");
	if (send_all(cfd, resp, (size_t)(eol + 2 - resp)) || send_headers(cfd, resp) ||
	    send_all(cfd, resp + rl, got - (size_t)rl))
		goto out;
	for (;;) {
		ssize_t r = recv(ofd, resp, HEAD_MAX, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || send_all(cfd, resp, (size_t)r))
			break;
	}
out:
	if (ofd >= 0)
		close(ofd);
	close(cfd);
	free(req);
	free(resp);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *port_file = NULL, *log_path = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--port-file") == 0)
			port_file = argv[i + 1];
		else if (strcmp(argv[i], "--log") == 0)
			log_path = argv[i + 1];
	}
	if (!port_file || !log_path) {
		fputs("usage: testproxy --port-file FILE --log FILE\n", stderr);
		return 2;
	}
	g_log = fopen(log_path, "a");
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	if (!g_log || lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) || listen(lfd, 64) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl)) {
		perror("testproxy");
		return 1;
	}
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp.%d", port_file, (int)getpid());
	FILE *pf = fopen(tmp, "w");
	if (!pf || fprintf(pf, "%u\n", ntohs(sa.sin_port)) < 0 || fclose(pf) || rename(tmp, port_file)) {
		perror("testproxy: port file");
		return 1;
	}
	for (;;) {
		int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("testproxy: accept");
			return 1;
		}
		pthread_t t;
		if (pthread_create(&t, NULL, serve, (void *)(intptr_t)cfd) != 0) {
			close(cfd);
			continue;
		}
		pthread_detach(t);
	}
}
