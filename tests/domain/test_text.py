from feedback.domain.text import containment, fold, similarity, tokens


def test_fold_removes_every_vietnamese_mark() -> None:
    assert fold("Đường Nguyễn Trãi, PHƯỜNG Quang Trung!") == "duong nguyen trai phuong quang trung"
    assert fold("ầẩẫậắằẳẵặếềểễệốồổỗộớờởỡợứừửữựỳỷỹỵ") == "aaaaaaaaaeeeeeoooooooooouuuuuyyyy"


def test_tokens_drop_stopwords_and_ignore_order() -> None:
    assert tokens("Rác thải không được thu gom ở tổ 5") == tokens("thu gom rac thai to 5")
    assert "khong" not in tokens("không có điện")


def test_reworded_case_without_diacritics_is_similar() -> None:
    original = tokens("Rác thải không được thu gom tại tổ 5 phường Quang Trung, bốc mùi")
    reworded = tokens("to 5 quang trung rac boc mui, ba ngay chua thu gom")
    unrelated = tokens("Đèn đường hỏng trên đường Nguyễn Trãi")
    assert similarity(original, reworded) > 0.5
    assert similarity(original, unrelated) < 0.2
    assert containment(reworded, original) > similarity(original, unrelated)


def test_empty_text_is_similar_to_nothing() -> None:
    assert similarity(tokens(""), tokens("rác")) == 0.0
    assert containment(set(), {"rac"}) == 0.0
