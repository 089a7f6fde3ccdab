/* One completed epoch as the runner records it: what checkpoints store and
 * reports print, in a header of its own so that checkpoint reading (io)
 * does not depend on the reports. */
#ifndef CNN_HISTORY_H
#define CNN_HISTORY_H

struct epoch_record {
	int epoch;                 /* 1-based */
	double loss, accuracy;     /* training, averaged over the epoch's batches */
	double val_loss, val_accuracy; /* NaN when there is no validation set */
	double seconds;            /* wall time of the epoch (training + validation) */
	double images_per_second;  /* training images / training seconds */
};

#endif
