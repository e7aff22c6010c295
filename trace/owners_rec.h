/* One record of the owners iterator (owners_iter.bpf.c), as the kernel
 * side writes it and the user side (owners_iter.c) reads it. Laid out as
 * struct cw_fd_socket is, so the records read are the table the census
 * takes. */
#ifndef CW_OWNERS_REC_H
#define CW_OWNERS_REC_H

struct cw_owner_rec {
	__u64 inode;
	__u32 pid;                    /* as the reader's /proc names the process */
	__s32 fd;
};

#endif
