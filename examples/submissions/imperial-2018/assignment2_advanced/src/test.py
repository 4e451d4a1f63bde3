import os
import pickle

import numpy as np
import matplotlib.image as mpimg


def test_fer_model(img_folder, model="fer_model.pkl"):
    """
    Given a folder with images, load the images (in lexico-graphical ordering
    according to the file name of the images) and your best model to predict
    the facial expression of each image.
    Args:
    - img_folder: Path to the images to be tested
    Returns:
    - preds: A numpy vector of size N with N being the number of images in
    img_folder.
    """
    preds = None
    ### Start your code here
    with open(model, "rb") as f:
        saved = pickle.load(f)
    net, mean_image = saved["model"], saved["mean_image"]
    names = sorted(os.listdir(img_folder))
    images = np.array([mpimg.imread(os.path.join(img_folder, n)) for n in names], dtype=np.float)
    if images.ndim == 4:
        images = images[..., 0]
    X = images.reshape(len(names), -1) - mean_image
    preds = np.argmax(net.loss(X), axis=1)
    ### End of code
    return preds
