package dedupe

import "context"
import "errors"
import "fmt"
import "strconv"
import "time"

import "github.com/aws/aws-sdk-go-v2/aws"
import "github.com/aws/aws-sdk-go-v2/service/dynamodb"
import "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

// The table's layout, shared with its Terraform
// (terraform/modules/mailtier_monitoring/alert_sink.tf): a string hash key
// and a TTL attribute, in epoch seconds, from which DynamoDB deletes
// expired records.
const (
	AttrKey     = "pk"
	AttrExpires = "expires_at"

	attrState = "state"
	attrToken = "token"
	attrLease = "lease_until" // epoch milliseconds

	statePending = "pending"
	stateDone    = "done"

	// pendingKeep keeps an abandoned claim's item a while past its lease
	// before DynamoDB's TTL may delete it; the lease alone decides whether
	// it can be taken over.
	pendingKeep = time.Hour
)

// DynamoDBAPI is the part of the DynamoDB client the store uses;
// *dynamodb.Client implements it.
type DynamoDBAPI interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// DynamoDB is a Store in a DynamoDB table that every instance of the
// function shares. A claim is one conditional PutItem, which DynamoDB
// applies atomically: of two instances claiming one key at once, exactly
// one succeeds, and the other learns from the old item (returned with the
// failed condition) whether the key is done or still held.
type DynamoDB struct {
	Client DynamoDBAPI
	Table  string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

func (d *DynamoDB) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// claimCondition lets a claim through when there is no record, when the
// record has expired (DynamoDB deletes expired items only eventually), or
// when it is a claim whose lease has run out (its holder died or timed
// out).
const claimCondition = "attribute_not_exists(#pk) OR #exp < :now_s OR (#state = :pending AND #lease < :now_ms)"

// Claim implements Store.
func (d *DynamoDB) Claim(ctx context.Context, key string, lease time.Duration) (Claim, error) {
	now := d.now()
	c := Claim{Key: key, State: Claimed, Token: newToken(), LeaseUntil: now.Add(lease)}
	_, err := d.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(d.Table),
		Item: map[string]types.AttributeValue{
			AttrKey:     str(key),
			attrState:   str(statePending),
			attrToken:   str(c.Token),
			attrLease:   num(c.LeaseUntil.UnixMilli()),
			AttrExpires: num(c.LeaseUntil.Add(pendingKeep).Unix()),
		},
		ConditionExpression: aws.String(claimCondition),
		ExpressionAttributeNames: map[string]string{
			"#pk": AttrKey, "#exp": AttrExpires, "#state": attrState, "#lease": attrLease,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now_s": num(now.Unix()), ":now_ms": num(now.UnixMilli()), ":pending": str(statePending),
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var failed *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return c, nil
	case errors.As(err, &failed):
		if s, _ := failed.Item[attrState].(*types.AttributeValueMemberS); s != nil && s.Value == stateDone {
			return Claim{Key: key, State: AlreadyDone}, nil
		}
		held := Claim{Key: key, State: HeldElsewhere}
		if n, _ := failed.Item[attrLease].(*types.AttributeValueMemberN); n != nil {
			if ms, err := strconv.ParseInt(n.Value, 10, 64); err == nil {
				held.LeaseUntil = time.UnixMilli(ms)
			}
		}
		return held, nil
	default:
		return Claim{}, fmt.Errorf("dynamodb claim: %w", err)
	}
}

// Done implements Store.
func (d *DynamoDB) Done(ctx context.Context, key string, ttl time.Duration) error {
	_, err := d.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(d.Table),
		Item: map[string]types.AttributeValue{
			AttrKey:     str(key),
			attrState:   str(stateDone),
			AttrExpires: num(d.now().Add(ttl).Unix()),
		},
	})
	if err != nil {
		return fmt.Errorf("dynamodb done: %w", err)
	}
	return nil
}

// Release implements Store.
func (d *DynamoDB) Release(ctx context.Context, c Claim) error {
	_, err := d.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(d.Table),
		Key:                       map[string]types.AttributeValue{AttrKey: str(c.Key)},
		ConditionExpression:       aws.String("#token = :token"),
		ExpressionAttributeNames:  map[string]string{"#token": attrToken},
		ExpressionAttributeValues: map[string]types.AttributeValue{":token": str(c.Token)},
	})
	var failed *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &failed) {
		return fmt.Errorf("dynamodb release: %w", err)
	}
	return nil
}

// IsDone implements Store. The read is strongly consistent: a record just
// written by another instance must be seen.
func (d *DynamoDB) IsDone(ctx context.Context, key string) (bool, error) {
	out, err := d.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.Table),
		Key:            map[string]types.AttributeValue{AttrKey: str(key)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return false, fmt.Errorf("dynamodb get: %w", err)
	}
	s, _ := out.Item[attrState].(*types.AttributeValueMemberS)
	if s == nil || s.Value != stateDone {
		return false, nil
	}
	n, _ := out.Item[AttrExpires].(*types.AttributeValueMemberN)
	if n == nil {
		return false, nil
	}
	exp, err := strconv.ParseInt(n.Value, 10, 64)
	return err == nil && d.now().Unix() <= exp, nil
}
