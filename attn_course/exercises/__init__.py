"""Checkers for the exercises: they run a learner's function on small cases and say *what* is wrong.

Each checker targets the mistakes people really make (a shape, a normalisation over the wrong axis, a
missing sqrt(d_k), an overflowing softmax, a mask ignored) and reports the first one it finds as a
`Feedback`. One module per topic; every checker is importable from here, and `EXERCISES` lists them all
as data (`Exercise`: the checker, its reference answer, the chapter and the name of the learner's answer).
"""
from .attention import check_attention
from .case_studies import check_ink_share, check_listing_attention, check_patch_distribution, check_top_patch
from .capstones import (check_capstone_gradients, check_capstone_layer, check_capstone_tile_count,
                        check_capstone_tiled_causal)
from .feedback import Feedback, hint
from .concepts import check_cross_attention, check_path_lengths, check_soft_lookup
from .applications import check_alignment_accuracy, check_attention_pooling, check_rollout
from .practice import check_key_padding_mask, check_multi_head_attention, check_split_heads
from .mathematics import check_attention_backward, check_masked_attention, check_score_variance
from .attention import check_additive_score, check_attention_shapes
from .background import check_bandwidth, check_kernel_weights, check_nadaraya_watson
from .tools import check_cached_attention, check_capture_weights, check_mha_mask
from .faq import check_attention_entropy, check_four_steps, check_permutation_test
from .efficiency import check_matrix_bytes, check_online_softmax_step, check_query_block
from .gpu import check_attention_flops, check_launch_grid, check_softmax_kernel
from .transformer import (check_causal_mask, check_induction_scores, check_perplexity, check_positional_encoding,
                          check_reversal_alignment, check_transformer_masks)
from .background import check_dot_product_scores, check_kernel_regression_nd, check_wide_bandwidth_prediction
from .attention import check_causal_attention_in_blocks, check_equivalent_bandwidth, check_shifted_keys_prediction
from .mathematics import (check_listing_prediction, check_masked_attention_backward, check_softmax_jacobian,
                          check_unscaled_prediction)
from .practice import check_causal_padded_attention, check_mha_parameter_count, check_weights_shape_prediction
from .concepts import check_lookup_slope, check_multi_head_cross_attention, check_scaled_temperature_prediction
from .efficiency import check_causal_tiled, check_merge_states, check_rescale_prediction
from .gpu import check_arithmetic_intensity, check_long_softmax, check_tile_prediction
from .transformer import check_changed_prediction, check_ideal_perplexity, check_kv_cache
from .transformer import check_cross_by_hand, check_cross_shape, check_decoder_params
from .tools import check_encode_padded, check_mha_params, check_weights_shape
from .applications import check_class_maps, check_pooling_prediction, check_uniform_rollout
from .faq import check_entropy_prediction, check_masked_lm_loss, check_window_scores
from .decoding import (check_attention_flops_total, check_decode_rope_step, check_decode_step, check_doubling,
                       check_gqa_decode_step)
from .pretraining import (check_corrupt, check_corrupt_one_draw, check_corruption_shares, check_restore_rates,
                          check_who_can_restore)
from .positions import check_rope, check_rope_attention, check_rope_scores, check_same_rope_score, check_shift_matrix
from .registry import LEVELS, Exercise, Mistake
from . import (applications, attention, background, capstones, case_studies, concepts, decoding, efficiency, faq, gpu, mathematics,
               positions, practice, pretraining, tools, transformer)

# In the order of the chapters, and of the exercises within each; the capstones after chapters 4 and 8.
EXERCISES = [exercise for part in (background.EXERCISES, concepts.EXERCISES, attention.EXERCISES, mathematics.EXERCISES,
                                   case_studies.EXERCISES, capstones.FIRST, practice.EXERCISES, positions.EXERCISES, applications.EXERCISES,
                                   transformer.EXERCISES, pretraining.EXERCISES, decoding.EXERCISES, tools.EXERCISES,
                                   efficiency.EXERCISES, gpu.EXERCISES, capstones.SECOND, faq.EXERCISES)
             for exercise in part]
