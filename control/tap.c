/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TAP interfaces (see tap.h): /dev/net/tun for the frames, ioctls for the
 * MAC, MTU and link state, rtnetlink for the addresses.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/if_addr.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/tap.h"

static int
ifreq_ioctl(unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc;

	if (s < 0)
		return -errno;
	rc = ioctl(s, req, ifr) < 0 ? -errno : 0;
	close(s);
	return rc;
}

/* RTM_NEWADDR for one of the port's addresses, and wait for the answer. */
static int
addr_add(int ifindex, const struct cfg_addr *a)
{
	struct {
		struct nlmsghdr nh;
		struct ifaddrmsg ifa;
		char attrs[64];
	} req = { 0 };
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	size_t alen = a->af == AF_INET6 ? 16 : 4;
	struct rtattr *rta;
	char answer[512];
	ssize_t n;
	int s, rc;

	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifa));
	req.nh.nlmsg_type = RTM_NEWADDR;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	req.nh.nlmsg_seq = 1;
	req.ifa.ifa_family = a->af;
	req.ifa.ifa_prefixlen = a->len;
	req.ifa.ifa_index = (unsigned int)ifindex;
	/* espd owns the address already: no duplicate detection. */
	req.ifa.ifa_flags = a->af == AF_INET6 ? IFA_F_NODAD : 0;
	rta = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.nh.nlmsg_len));
	rta->rta_type = IFA_LOCAL;
	rta->rta_len = RTA_LENGTH(alen);
	memcpy(RTA_DATA(rta), a->a, alen);
	req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
	rta = (struct rtattr *)((char *)&req + req.nh.nlmsg_len);
	rta->rta_type = IFA_ADDRESS;
	rta->rta_len = RTA_LENGTH(alen);
	memcpy(RTA_DATA(rta), a->a, alen);
	req.nh.nlmsg_len += RTA_ALIGN(rta->rta_len);

	s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0)
		return -errno;
	if (sendto(s, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) < 0) {
		rc = -errno;
		close(s);
		return rc;
	}
	n = recv(s, answer, sizeof(answer), 0);
	rc = n < 0 ? -errno : -EIO;
	if (n >= (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
		const struct nlmsghdr *h = (const void *)answer;

		if (h->nlmsg_type == NLMSG_ERROR)
			rc = ((const struct nlmsgerr *)NLMSG_DATA(h))->error;
	}
	close(s);
	return rc;
}

int
tap_create(struct tap *t, const struct cfg_port *cp, const uint8_t mac[6], uint16_t mtu)
{
	struct ifreq ifr = { 0 };
	const char *step;
	uint8_t i;
	int rc;

	t->fd = -1;
	snprintf(t->name, sizeof(t->name), "%s", cp->tap);
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		rc = -errno;
		fprintf(stderr, "espd: port %u: tap %s: /dev/net/tun: %s (load the tun module, "
			"and run espd as root or with CAP_NET_ADMIN)\n", cp->id, t->name,
			strerror(errno));
		return rc;
	}
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", t->name);
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		step = "create";
		rc = -errno;
		goto err;
	}
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	rc = ifreq_ioctl(SIOCSIFHWADDR, &ifr);
	step = "set its MAC";
	if (rc < 0)
		goto err;
	ifr.ifr_mtu = mtu;
	rc = ifreq_ioctl(SIOCSIFMTU, &ifr);
	step = "set its MTU";
	if (rc < 0)
		goto err;
	rc = ifreq_ioctl(SIOCGIFINDEX, &ifr);
	step = "find its index";
	if (rc < 0)
		goto err;
	t->ifindex = ifr.ifr_ifindex;
	rc = ifreq_ioctl(SIOCGIFFLAGS, &ifr);
	if (rc == 0) {
		ifr.ifr_flags |= IFF_UP;
		rc = ifreq_ioctl(SIOCSIFFLAGS, &ifr);
	}
	step = "set it up";
	if (rc < 0)
		goto err;
	step = "add its address";
	for (i = 0; i < cp->naddr; i++) {
		rc = addr_add(t->ifindex, &cp->addr[i]);
		if (rc < 0 && rc != -EEXIST)
			goto err;
	}
	return 0;

err:
	fprintf(stderr, "espd: port %u: tap %s: cannot %s: %s (is the name taken by "
		"another interface? espd needs CAP_NET_ADMIN)\n", cp->id, t->name, step,
		strerror(-rc));
	tap_close(t);
	return rc;
}

void
tap_close(struct tap *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

ssize_t
tap_read(struct tap *t, void *buf, size_t len)
{
	ssize_t n;
	uint8_t over;
	struct iovec iov[2] = {
		{ .iov_base = buf, .iov_len = len },
		{ .iov_base = &over, .iov_len = 1 }, /* a frame too long reaches it */
	};

	if (t->fd < 0)
		return 0;
	n = readv(t->fd, iov, 2);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	/* tun cuts a longer frame to the buffer (and some kernels still say
	 * its whole length): never hand on a cut frame. */
	return (size_t)n > len ? -1 : n;
}

int
tap_write(struct tap *t, const void *frame, size_t len)
{
	if (t->fd < 0)
		return -1;
	return write(t->fd, frame, len) == (ssize_t)len ? 0 : -1;
}
