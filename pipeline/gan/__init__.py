"""The adversarial game: the GAN model with its train step, the losses it plays with
(`losses.LOSSES`) and the regularizers added to the discriminator's loss
(`regularizers.REGULARIZERS`)."""
