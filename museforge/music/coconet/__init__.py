"""A Coconet-style chorale model: four voices on a sixteenth grid, any cells erased, refilled.

After Huang et al. 2017 ("Counterpoint by convolution"). A chorale becomes a grid of 4
voices × T sixteenth steps, each cell holding the sounding pitch (or a rest class). The
network sees the grid with some cells erased (a mask channel per voice) and predicts a
distribution over pitches for every cell; it is trained with cross-entropy on the erased
cells only, erasing a random share of cells per example (orderless NADE), plus whole
voices and time blocks, which are the shapes harmonising and infilling ask for. Sampling
is annealed blocked Gibbs: erase a shrinking random share of the cells being written,
resample them from the model, repeat.

One module per concern:

* :mod:`~museforge.music.coconet.encoding`: pieces ↔ pitch grids ↔ classes, training windows;
* :mod:`~museforge.music.coconet.network`: the config and the convolutional network;
* :mod:`~museforge.music.coconet.sampling`: Gibbs sampling under the voice-leading veto,
  window by window, and on whole pieces;
* :mod:`~museforge.music.coconet.training`: erasure masks, the loss and the training task.
"""
