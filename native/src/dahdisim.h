/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dahdisim.h - the simulator's DAHDI personality.
 *
 * The simulated chassis seen as the DAHDI kernel shows it to userspace:
 * the same four calls as the C library's (open, ioctl, read, write, close),
 * taking the same paths ("/dev/dahdi/channel", "/dev/dahdi/ctl"), ioctl
 * numbers and structs (dahdi/user.h), and failing the same way (-1 with
 * errno: ENXIO, EINVAL, EAGAIN, ELAST while an event waits...).  A driver's
 * device layer calls these instead of the kernel's and issues exactly what
 * it would issue to /dev/dahdi (drivers.dahdidev).
 *
 * Channels and spans come from the chassis, numbered as DAHDI numbers
 * them, in board order from 1: each analog board's lines are one span of
 * FXO ports (kewl-start FXS signalling, the way an FXO port is configured:
 * lines-real.md 1.2, "naming trap"), each station board's phones a span
 * of FXS ports (fxoks), each T1 or E1 a span of its timeslots (e&m, cas
 * or clear by its signalling).  Descriptors are the personality's own
 * small numbers, meaningful only to these calls; cti_dahdi_wakefd() is a
 * real eventfd, readable while an open channel has an event queued or a
 * whole block to read (what poll() on the channels would say).
 */
#ifndef CTI_DAHDISIM_H
#define CTI_DAHDISIM_H

#include <sys/types.h>

int cti_dahdi_open(const char *path, int flags);
int cti_dahdi_close(int fd);
int cti_dahdi_ioctl(int fd, unsigned long request, void *arg);
ssize_t cti_dahdi_read(int fd, void *buf, size_t n);
ssize_t cti_dahdi_write(int fd, const void *buf, size_t n);
int cti_dahdi_wakefd(void);

/* The far end's side, for tests and benchmarks: queue a DAHDI event on a
 * channel as its hardware would (0, or -1 with errno ENXIO for no such
 * channel and EBUSY when its queue is full: DAHDI_MAX_EVENTSIZE - 1, 63 events,
 * as the kernel's ring). */
int cti_dahdisim_queue_event(int channo, int event);

/* Whether dahdi_cfg loaded a tone zone (loadzone=, defaultzone=; loaded
 * until told otherwise): without one the kernel rings no phone (HOOK RING
 * is ENODATA). */
void cti_dahdisim_tone_zone(int loaded);

/* Hot-unplug span `spanno`'s board, as the kernel's disable_span: each of
 * its channels gets DAHDI_EVENT_REMOVED, then ENODEV for every read, write
 * and ioctl (0, or -1 with errno ENXIO: no such span). */
int cti_dahdisim_unplug(int spanno);

/* A channel's own alarms (GET_PARAMS' chan_alarms), as a card's driver
 * sets them (dahdi_alarm_channel): an FXO port with no battery is
 * DAHDI_ALARM_RED; ALARM / NOALARM queued on a change to some / none (0,
 * or -1 with errno ENXIO: no such channel). */
int cti_dahdisim_line_alarm(int channo, int alarms);

/* A CAS channel's idle bits (DAHDI's ABCD, A = 8), as dahdi_cfg would set
 * them from system.conf's cas=<channels>:<ABCD> (1101 until told: what
 * simulated_system_conf writes), sent at once as DAHDI_CHANCONFIG's
 * hang-up does; GET_PARAMS reports them (0, or -1 with errno ENXIO: no
 * such channel, EINVAL: not a cas channel). */
int cti_dahdisim_idlebits(int channo, int bits);

/* The simulation's side (sim.c): one tick of every channel, and forgetting
 * every channel and descriptor when the simulation is reset. */
void dahdisim_tick(void);
void dahdisim_reset(void);

#endif
